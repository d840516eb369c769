package secretcachetest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// fault is a FailNext or DropNext rule for the next remaining requests.
type fault struct {
	op        Op // "" matches every operation
	remaining int
	code      string // error code to return; "" closes the connection instead
}

// FailNext makes the next n requests for op fail with the AWS error code,
// such as ThrottlingException, sent with the HTTP status that AWS uses for
// it: 500 for InternalServiceError and InternalFailure, 503 for
// ServiceUnavailable, 400 for other codes. An op of "" matches every
// operation. FailNext and DropNext rules apply in the order they were added
// and before FailAlways. FailNext panics if op is unknown, code is empty or
// n is negative.
func (s *Server) FailNext(op Op, n int, code string) {
	checkFaultOp("FailNext", op)
	if code == "" {
		panic("secretcachetest: FailNext: the error code is empty; pass a code such as ThrottlingException")
	}
	s.addFault(op, n, code)
}

// DropNext makes the next n requests for op end with the connection closed
// and no response. An op of "" matches every operation. DropNext panics if
// op is unknown or n is negative.
func (s *Server) DropNext(op Op, n int) {
	checkFaultOp("DropNext", op)
	s.addFault(op, n, "")
}

func (s *Server) addFault(op Op, n int, code string) {
	if n < 0 {
		panic(fmt.Sprintf("secretcachetest: fault count %d for %q is negative", n, op))
	}
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{op: op, remaining: n, code: code})
}

// FailAlways makes every request for op fail with the AWS error code, with
// the status that FailNext describes, until ClearFaults. An op of "" matches
// every operation that has no FailAlways code of its own. FailAlways panics
// if op is unknown or code is empty.
func (s *Server) FailAlways(op Op, code string) {
	checkFaultOp("FailAlways", op)
	if code == "" {
		panic("secretcachetest: FailAlways: the error code is empty; pass a code such as InternalServiceError")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.always[op] = code
}

// SetLatency delays the response to every request for op by d, after the
// request body is read. The wait ends early when the client goes away or
// the server is closed. An op of "" sets the latency of operations without
// their own; a d of zero or less removes the setting. SetLatency panics if
// op is unknown.
func (s *Server) SetLatency(op Op, d time.Duration) {
	checkFaultOp("SetLatency", op)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, op)
		return
	}
	s.latency[op] = d
}

// ClearFaults removes every FailNext, FailAlways, DropNext and SetLatency
// setting. Deny settings stay until Allow.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	clear(s.always)
	clear(s.latency)
}

// Deny makes requests for the named secret fail with AccessDeniedException
// on the given operations, or on all operations when none are given, until
// Allow. The secret need not exist, and requests by ARN are denied too.
// Deny panics if an op is unknown.
func (s *Server) Deny(name string, ops ...Op) {
	ops = opsOrAll("Deny", ops)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[name] == nil {
		s.denied[name] = make(map[Op]bool)
	}
	for _, op := range ops {
		s.denied[name][op] = true
	}
}

// Allow lifts Deny for the named secret on the given operations, or on all
// operations when none are given. Allow panics if an op is unknown.
func (s *Server) Allow(name string, ops ...Op) {
	ops = opsOrAll("Allow", ops)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		delete(s.denied[name], op)
	}
	if len(s.denied[name]) == 0 {
		delete(s.denied, name)
	}
}

// isDenied reports whether Deny blocks op on the named secret. The caller
// holds s.mu.
func (s *Server) isDenied(name string, op Op) bool {
	return s.denied[name][op]
}

func accessDenied(op Op, secretID string) *apiError {
	return errorf(codeAccessDenied,
		"user arn:aws:iam::%s:user/secretcachetest is not authorized to perform secretsmanager:%s on secret %q: Server.Deny blocks it until Server.Allow",
		fakeAccountID, op, truncate(secretID, 200))
}

// opsOrAll returns ops, or every operation when ops is empty, and panics
// on an unknown operation.
func opsOrAll(helper string, ops []Op) []Op {
	if len(ops) == 0 {
		return allOps
	}
	for _, op := range ops {
		if !slices.Contains(allOps, op) {
			panic(fmt.Sprintf("secretcachetest: %s: unknown operation %q; use one of %v", helper, op, allOps))
		}
	}
	return ops
}

// checkFaultOp panics unless op is "" or an implemented operation.
func checkFaultOp(helper string, op Op) {
	if op != "" && !slices.Contains(allOps, op) {
		panic(fmt.Sprintf("secretcachetest: %s: unknown operation %q; use \"\" for every operation or one of %v", helper, op, allOps))
	}
}

// waitLatency waits out the latency set for op. It returns false when the
// request must end early because the client went away or the server is
// closing. In the second case it writes a 503 error first.
func (s *Server) waitLatency(w http.ResponseWriter, r *http.Request, op Op) bool {
	s.mu.Lock()
	delay, ok := s.latency[op]
	if !ok {
		delay = s.latency[""]
	}
	s.mu.Unlock()
	if delay <= 0 {
		return true
	}

	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		// The client closed the connection, so nothing can read a response.
		return false
	case <-s.closing:
		writeError(w, errorf(codeServiceUnavailable, "secretcachetest.Server was closed while %s waited out its latency", op))
		return false
	}
}

// applyFault applies the first FailNext or DropNext rule for op, else a
// FailAlways code. It returns true when it has written the response or
// closed the connection.
func (s *Server) applyFault(w http.ResponseWriter, op Op) bool {
	code, drop, ok := s.takeFault(op)
	if !ok {
		return false
	}
	if drop {
		dropConnection(w, op)
		return true
	}
	writeError(w, errorf(code, "%s injected for %s by secretcachetest.Server: call ClearFaults to stop it", code, op))
	return true
}

// takeFault returns the fault for the next request for op and counts it.
func (s *Server) takeFault(op Op) (code string, drop bool, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.op != "" && f.op != op {
			continue
		}
		f.remaining--
		if f.remaining == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return f.code, f.code == "", true
	}
	if code, found := s.always[op]; found {
		return code, false, true
	}
	if code, found := s.always[""]; found {
		return code, false, true
	}
	return "", false, false
}

// dropConnection closes the client connection without a response. A
// ResponseWriter that can't be hijacked, such as httptest.ResponseRecorder,
// gets a 500 error instead.
func dropConnection(w http.ResponseWriter, op Op) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, errorf(codeInternalServiceError,
			"DropNext for %s could not close the connection: %v", op, err))
		return
	}
	_ = conn.Close() // the client sees the connection end with no response
}
