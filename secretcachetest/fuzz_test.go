package secretcachetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzServerRequest sends arbitrary X-Amz-Target headers and bodies to the
// handler. Every response must be a JSON object with a 2xx, 4xx or 5xx
// status, and every non-200 response must carry matching error codes in
// its body and its X-Amzn-ErrorType header.
func FuzzServerRequest(f *testing.F) {
	f.Add("secretsmanager.GetSecretValue", []byte(`{"SecretId":"fuzz"}`))
	f.Add("secretsmanager.BatchGetSecretValue", []byte(`{"SecretIdList":["fuzz","missing"]}`))
	f.Add("secretsmanager.PutSecretValue", []byte(`{"SecretId":"fuzz","SecretBinary":"AAEC","VersionStages":["AWSPENDING"]}`))
	f.Add("secretsmanager.Unknown", []byte(`{`))

	f.Fuzz(func(t *testing.T, target string, body []byte) {
		server := newServer()
		server.PutString("fuzz", "value")
		request := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		request.Header.Set("X-Amz-Target", target)
		recorder := httptest.NewRecorder()

		server.serveHTTP(recorder, request)

		if recorder.Code < 200 || recorder.Code > 599 || (recorder.Code >= 300 && recorder.Code < 400) {
			t.Fatalf("status = %d, want 2xx, 4xx or 5xx", recorder.Code)
		}
		var response map[string]any
		if err := json.Unmarshal(recorder.Body.Bytes(), &response); err != nil {
			t.Fatalf("status %d body %q is not a JSON object: %v", recorder.Code, recorder.Body.Bytes(), err)
		}
		if recorder.Code == http.StatusOK {
			return
		}
		code, _ := response["__type"].(string)
		if code == "" || code != recorder.Header().Get("X-Amzn-ErrorType") {
			t.Fatalf("error body __type %q does not match X-Amzn-ErrorType %q", code, recorder.Header().Get("X-Amzn-ErrorType"))
		}
	})
}
