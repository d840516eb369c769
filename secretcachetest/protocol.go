package secretcachetest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

const jsonContentType = "application/x-amz-json-1.1"

// Error codes that the server returns by itself. FailNext and FailAlways
// accept any code.
const (
	codeResourceNotFound     = "ResourceNotFoundException"
	codeInvalidRequest       = "InvalidRequestException"
	codeInvalidParameter     = "InvalidParameterException"
	codeAccessDenied         = "AccessDeniedException"
	codeResourceExists       = "ResourceExistsException"
	codeInvalidNextToken     = "InvalidNextTokenException"
	codeInternalServiceError = "InternalServiceError"
	codeSerialization        = "SerializationException"
	codeUnknownOperation     = "UnknownOperationException"
	codeRequestTooLarge      = "RequestEntityTooLargeException"
	codeMethodNotAllowed     = "MethodNotAllowedException"
	codeServiceUnavailable   = "ServiceUnavailable"
)

// errorStatus maps error codes to the HTTP status sent with them. Codes not
// listed here are client errors and get 400, as most AWS error codes do.
var errorStatus = map[string]int{
	codeInternalServiceError:      http.StatusInternalServerError,
	"InternalFailure":             http.StatusInternalServerError,
	codeServiceUnavailable:        http.StatusServiceUnavailable,
	"ServiceUnavailableException": http.StatusServiceUnavailable,
	codeRequestTooLarge:           http.StatusRequestEntityTooLarge,
	codeMethodNotAllowed:          http.StatusMethodNotAllowed,
}

// statusForCode returns the HTTP status for an AWS error code.
func statusForCode(code string) int {
	if status, ok := errorStatus[code]; ok {
		return status
	}
	return http.StatusBadRequest
}

// apiError is an AWS error response: a code such as
// ResourceNotFoundException and a message for people.
type apiError struct {
	code    string
	message string
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

// writeError sends an AWS JSON 1.1 error. The SDK reads the code from the
// X-Amzn-ErrorType header and falls back to the __type member of the body.
func writeError(w http.ResponseWriter, e *apiError) {
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.code, e.message})
	if err != nil {
		// Marshaling two strings cannot fail, but the response must stay JSON.
		body = []byte(`{"__type":"InternalServiceError","message":"encoding the error response failed"}`)
	}
	header := w.Header()
	header.Set("Content-Type", jsonContentType)
	header.Set("X-Amzn-ErrorType", e.code)
	header.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(statusForCode(e.code))
	_, _ = w.Write(body) // a failed write means the client went away
}

// writeResult sends a 200 response with result encoded as JSON.
func writeResult(w http.ResponseWriter, result any) {
	body, err := json.Marshal(result)
	if err != nil {
		writeError(w, errorf(codeInternalServiceError, "encoding the response failed: %v", err))
		return
	}
	header := w.Header()
	header.Set("Content-Type", jsonContentType)
	header.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a failed write means the client went away
}

// bodyReadError converts an error from reading the request body.
func bodyReadError(err error) *apiError {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return errorf(codeRequestTooLarge,
			"request body is larger than %d bytes: Secrets Manager values are at most 65536 bytes, so send a smaller request",
			maxErr.Limit)
	}
	return errorf(codeSerialization, "reading the request body failed: %v", err)
}

// decodeInput decodes an operation's JSON input into v. Members that v does
// not declare are ignored, as AWS ignores members it does not know.
//
// NOTE: encoding/json matches member names without regard to case, so the
// server accepts "secretid" for "SecretId" where AWS would not.
func decodeInput(body []byte, v any) *apiError {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errorf(codeSerialization,
			"request body is not a JSON object: send the operation input as an object such as {\"SecretId\":\"my-secret\"}")
	}

	decoder := json.NewDecoder(bytes.NewReader(trimmed))
	if err := decoder.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Type != nil {
			return errorf(codeSerialization,
				"request member %s has the wrong type: got JSON %s, expected %s",
				typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.String()))
		}
		return errorf(codeSerialization, "request body is not valid JSON: %v", err)
	}
	if _, err := decoder.Token(); err != io.EOF {
		return errorf(codeSerialization,
			"request body has data after the JSON object: send exactly one object")
	}
	return nil
}

// jsonKind names the JSON type that a Go type of an input struct decodes from.
func jsonKind(goType string) string {
	switch goType {
	case "string", "*string":
		return "a string"
	case "[]uint8":
		return "a base64 string"
	case "bool", "*bool":
		return "a boolean"
	case "int32", "*int32", "int64", "*int64":
		return "an integer"
	case "[]string":
		return "a list of strings"
	case "[]interface {}":
		return "a list"
	}
	return goType
}

// epochSeconds encodes a time as seconds since the Unix epoch with
// millisecond precision, the timestamp format of AWS JSON protocols.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	millis := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(millis)/1000, 'f', 3, 64), nil
}

// epochOrNil returns nil for the zero time, so the member is omitted.
func epochOrNil(t time.Time) *epochSeconds {
	if t.IsZero() {
		return nil
	}
	e := epochSeconds(t)
	return &e
}

// newUUID returns a random version 4 UUID, the format of Secrets Manager
// version IDs and request IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
