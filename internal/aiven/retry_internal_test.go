package aiven

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRetryPolicy pins the policy copied from go-client-codegen retry.go.
func TestRetryPolicy(t *testing.T) {
	rsp := func(method string, status int, body string) *http.Response {
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)),
			Request: &http.Request{Method: method}, Header: http.Header{}}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		rsp  *http.Response
		err  error
		want bool
	}{
		{"connection refused", nil, nil, &url.Error{Op: "Get", URL: "x", Err: errors.New("connection refused")}, true},
		{"TLS verification", nil, nil, &url.Error{Op: "Get", URL: "x", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, false},
		{"canceled", canceled, rsp("GET", 503, ""), nil, false},
		{"500", nil, rsp("GET", 500, ""), nil, true},
		{"502", nil, rsp("DELETE", 502, ""), nil, true},
		{"503", nil, rsp("POST", 503, ""), nil, true},
		{"429", nil, rsp("GET", 429, ""), nil, true},
		{"501", nil, rsp("GET", 501, ""), nil, true},
		{"408", nil, rsp("GET", 408, ""), nil, true},
		{"417 DELETE", nil, rsp("DELETE", 417, ""), nil, true},
		{"417 GET", nil, rsp("GET", 417, ""), nil, false},
		{"404 POST service settling", nil, rsp("POST", 404, `{"message":"Service os-dr does not exist"}`), nil, true},
		{"404 GET service", nil, rsp("GET", 404, `{"message":"Service os-dr does not exist"}`), nil, false},
		{"404 user settling", nil, rsp("GET", 404, `{"message":"User avnadmin with component main not found"}`), nil, true},
		{"404 DELETE integration", nil, rsp("DELETE", 404, `{"message":"Service integration not found"}`), nil, false},
		{"400", nil, rsp("POST", 400, ""), nil, false},
		{"401", nil, rsp("GET", 401, ""), nil, false},
		{"409", nil, rsp("POST", 409, ""), nil, false},
	} {
		ctx := tc.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		got, _ := retryable(ctx, tc.rsp, tc.err)
		if got != tc.want {
			t.Errorf("%s: retry = %t, want %t", tc.name, got, tc.want)
		}
		if tc.rsp != nil && tc.rsp.StatusCode == 404 {
			if b, _ := io.ReadAll(tc.rsp.Body); len(b) == 0 {
				t.Errorf("%s: the body was not put back for the client", tc.name)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 4*time.Second
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if got := backoff(lo, hi, attempt, nil); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
	r := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"2"}}}
	if got := backoff(lo, hi, 0, r); got != 2*time.Second {
		t.Errorf("Retry-After 2: %s", got)
	}
	r.Header.Set("Retry-After", "600")
	if got := backoff(lo, hi, 0, r); got != hi {
		t.Errorf("Retry-After 600: %s, want capped at %s", got, hi)
	}
}
