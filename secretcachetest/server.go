package secretcachetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Op is a Secrets Manager operation name as it appears in the X-Amz-Target
// header after "secretsmanager.".
type Op string

// Operations that the server implements.
const (
	OpGetSecretValue           Op = "GetSecretValue"
	OpDescribeSecret           Op = "DescribeSecret"
	OpCreateSecret             Op = "CreateSecret"
	OpPutSecretValue           Op = "PutSecretValue"
	OpUpdateSecretVersionStage Op = "UpdateSecretVersionStage"
	OpDeleteSecret             Op = "DeleteSecret"
	OpBatchGetSecretValue      Op = "BatchGetSecretValue"
)

// allOps lists every implemented operation.
var allOps = []Op{
	OpGetSecretValue,
	OpDescribeSecret,
	OpCreateSecret,
	OpPutSecretValue,
	OpUpdateSecretVersionStage,
	OpDeleteSecret,
	OpBatchGetSecretValue,
}

const (
	// fakeRegion is the region of the clients that Server.Client builds and
	// of the ARNs that the server assigns.
	fakeRegion = "us-east-1"
	// fakeAccountID is the AWS account ID in the ARNs that the server assigns.
	fakeAccountID = "123456789012"

	targetPrefix = "secretsmanager."
	// maxRequestBody is the largest request body the server reads, in bytes.
	maxRequestBody = 1 << 20
)

// Server is a fake Secrets Manager endpoint on 127.0.0.1. It stores secrets
// in memory, speaks the AWS JSON 1.1 protocol to the real SDK client, and
// injects faults on request. All methods are safe for concurrent use.
type Server struct {
	httpServer *httptest.Server
	// closing is closed by Close so that requests waiting out a latency
	// return at once.
	closing   chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	secrets map[string]*secret // by name
	denied  map[string]map[Op]bool
	faults  []*fault             // FailNext and DropNext rules in the order they were added
	always  map[Op]string        // FailAlways error codes; the key "" matches every operation
	latency map[Op]time.Duration // the key "" applies to operations without their own entry
	calls   map[Op]int64
	total   int64
}

// NewServer starts a server on a random port of 127.0.0.1. Call Close when
// done with it. NewServer panics if it cannot listen on 127.0.0.1.
func NewServer() *Server {
	s := newServer()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("secretcachetest: listen on 127.0.0.1: %v", err))
	}
	s.httpServer = &httptest.Server{
		Listener: listener,
		Config:   &http.Server{Handler: http.HandlerFunc(s.serveHTTP)},
	}
	s.httpServer.Start()
	return s
}

// newServer returns a server with empty state and no listener, so that tests
// can call serveHTTP directly.
func newServer() *Server {
	return &Server{
		closing: make(chan struct{}),
		secrets: make(map[string]*secret),
		denied:  make(map[string]map[Op]bool),
		always:  make(map[Op]string),
		latency: make(map[Op]time.Duration),
		calls:   make(map[Op]int64),
	}
}

// URL returns the base URL of the server, such as http://127.0.0.1:40123.
func (s *Server) URL() string {
	return s.httpServer.URL
}

// Close ends requests that wait out a latency, closes every connection,
// stops the server and waits for its handlers to return. Clients built by
// Client fail after Close. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.httpServer.CloseClientConnections()
	s.httpServer.Close()
}

// Client returns a Secrets Manager client that sends every request to this
// server. It uses region us-east-1, static dummy credentials, the server URL
// as BaseEndpoint and the server's own HTTP client, whose transport has no
// proxy. It reads no credentials, endpoints or proxy settings from the
// environment, so it contacts no other host unless optFns change that.
// The option functions run last and may replace any setting, such as the
// retryer.
func (s *Server) Client(optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	options := secretsmanager.Options{
		Region:       fakeRegion,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSECRETCACHETEST", "secretcachetest-dummy-secret-key", ""),
		HTTPClient:   s.httpServer.Client(),
	}
	return secretsmanager.New(options, optFns...)
}

// Calls returns how many requests for op reached the server since the last
// ResetCalls, including those that failed or had a fault injected.
// Calls("") returns TotalCalls.
func (s *Server) Calls(op Op) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		return s.total
	}
	return s.calls[op]
}

// TotalCalls returns how many requests reached the server since the last
// ResetCalls, including requests for unknown operations and rejected ones.
func (s *Server) TotalCalls() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCalls sets every call counter to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.total = 0
}

// serveHTTP handles one AWS JSON 1.1 request. Every input gets a JSON
// response, or a closed connection when DropNext is set. FuzzServerRequest
// checks that no input makes it panic.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())

	op, targetErr := parseTarget(r)
	s.countCall(op)
	if targetErr != nil {
		if targetErr.code == codeMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		writeError(w, targetErr)
		return
	}

	// The body is read before any latency because net/http notices a client
	// that goes away, and cancels r.Context(), only once the body is read.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if readErr != nil {
		writeError(w, bodyReadError(readErr))
		return
	}

	if !s.waitLatency(w, r, op) {
		return
	}
	if s.applyFault(w, op) {
		return
	}

	result, opErr := operations[op](s, body)
	if opErr != nil {
		writeError(w, opErr)
		return
	}
	writeResult(w, result)
}

// parseTarget returns the operation named by the X-Amz-Target header. The
// operation is "" when the error is not nil.
func parseTarget(r *http.Request) (Op, *apiError) {
	if r.Method != http.MethodPost {
		return "", errorf(codeMethodNotAllowed,
			"HTTP method %s is not supported: send Secrets Manager requests as POST", r.Method)
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, targetPrefix)
	if !ok {
		return "", errorf(codeUnknownOperation,
			"X-Amz-Target header %q does not name a Secrets Manager operation: expected %s<Operation>",
			truncate(target, 100), targetPrefix)
	}
	op := Op(name)
	if operations[op] == nil {
		return "", errorf(codeUnknownOperation,
			"operation %q is not implemented by secretcachetest.Server: use one of %v",
			truncate(name, 100), allOps)
	}
	return op, nil
}

// countCall counts a request. op is "" for requests that name no
// implemented operation, which count only in the total.
func (s *Server) countCall(op Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if op != "" {
		s.calls[op]++
	}
}

// truncate shortens client-supplied text before it is quoted in a message.
func truncate(text string, maxBytes int) string {
	if len(text) <= maxBytes {
		return text
	}
	return text[:maxBytes] + "..."
}
