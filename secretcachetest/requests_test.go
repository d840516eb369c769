package secretcachetest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// rawResponse is the server's HTTP response to a request sent without the
// SDK.
type rawResponse struct {
	status    int
	errorType string // X-Amzn-ErrorType header
	body      map[string]any
}

// postRaw sends body to the server with the given X-Amz-Target header over
// an HTTP client without a proxy.
func postRaw(t *testing.T, server *secretcachetest.Server, method, target string, body []byte) rawResponse {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}

	request, err := http.NewRequestWithContext(testContext(t), method, server.URL()+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	request.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		request.Header.Set("X-Amz-Target", target)
	}
	response, err := client.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer response.Body.Close()

	data, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	result := rawResponse{status: response.StatusCode, errorType: response.Header.Get("X-Amzn-ErrorType")}
	if err := json.Unmarshal(data, &result.body); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", data, err)
	}
	if got := response.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type = %q, want application/x-amz-json-1.1", got)
	}
	return result
}

func TestBadRequests(t *testing.T) {
	server, _ := newTestServer(t)
	server.PutString("s", "v")
	const get = "secretsmanager.GetSecretValue"

	tests := []struct {
		name       string
		method     string
		target     string
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", "POST", get, []byte(`{"SecretId":`), 400, "SerializationException"},
		{"not an object", "POST", get, []byte(`["s"]`), 400, "SerializationException"},
		{"empty body", "POST", get, nil, 400, "SerializationException"},
		{"wrong member type", "POST", get, []byte(`{"SecretId":42}`), 400, "SerializationException"},
		{"data after the object", "POST", get, []byte(`{"SecretId":"s"} {}`), 400, "SerializationException"},
		{"invalid base64", "POST", "secretsmanager.PutSecretValue", []byte(`{"SecretId":"s","SecretBinary":"%%%"}`), 400, "SerializationException"},
		{"oversized body", "POST", get, oversizedBody(), 413, "RequestEntityTooLargeException"},
		{"missing SecretId", "POST", get, []byte(`{}`), 400, "InvalidParameterException"},
		{"empty SecretId", "POST", get, []byte(`{"SecretId":""}`), 400, "InvalidParameterException"},
		{"2049-character SecretId", "POST", get, []byte(`{"SecretId":"` + strings.Repeat("x", 2049) + `"}`), 400, "InvalidParameterException"},
		{"unknown operation", "POST", "secretsmanager.ListSecrets", []byte(`{}`), 400, "UnknownOperationException"},
		{"other service", "POST", "kms.Decrypt", []byte(`{}`), 400, "UnknownOperationException"},
		{"missing target", "POST", "", []byte(`{}`), 400, "UnknownOperationException"},
		{"GET request", "GET", get, nil, 405, "MethodNotAllowedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response := postRaw(t, server, tt.method, tt.target, tt.body)
			if response.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", response.status, tt.wantStatus)
			}
			if response.errorType != tt.wantCode {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", response.errorType, tt.wantCode)
			}
			if got := response.body["__type"]; got != tt.wantCode {
				t.Errorf("__type = %v, want %q", got, tt.wantCode)
			}
			if message, _ := response.body["message"].(string); message == "" {
				t.Errorf("message is missing in %v", response.body)
			}
		})
	}

	// The server still responds after every bad request.
	response := postRaw(t, server, "POST", get, []byte(`{"SecretId":"s"}`))
	if response.status != 200 || response.body["SecretString"] != "v" {
		t.Errorf("valid request after bad ones: status %d, body %v", response.status, response.body)
	}
	if want := int64(len(tests) + 1); server.TotalCalls() != want {
		t.Errorf("TotalCalls = %d, want %d", server.TotalCalls(), want)
	}
}

// oversizedBody returns a valid request that is one byte over 1 MiB.
func oversizedBody() []byte {
	prefix := `{"SecretId":"s","Padding":"`
	suffix := `"}`
	padding := strings.Repeat("x", 1<<20+1-len(prefix)-len(suffix))
	return []byte(prefix + padding + suffix)
}

func TestRawResponseFormat(t *testing.T) {
	server, _ := newTestServer(t)
	versionID := server.PutString("s", "v")

	response := postRaw(t, server, "POST", "secretsmanager.DescribeSecret", []byte(`{"SecretId":"s"}`))
	if response.status != 200 {
		t.Fatalf("status = %d, want 200", response.status)
	}
	created, ok := response.body["CreatedDate"].(float64)
	if !ok || created < 1e9 {
		t.Errorf("CreatedDate = %v, want epoch seconds as a number", response.body["CreatedDate"])
	}
	stages, ok := response.body["VersionIdsToStages"].(map[string]any)
	if !ok || len(stages) != 1 || stages[versionID] == nil {
		t.Errorf("VersionIdsToStages = %v, want the version %s", response.body["VersionIdsToStages"], versionID)
	}
	if _, present := response.body["DeletedDate"]; present {
		t.Errorf("DeletedDate = %v, want it omitted", response.body["DeletedDate"])
	}
}
