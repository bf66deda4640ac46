package opensearch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/drwatch/drwatch/internal/observe"
)

// Error is a failed call to a cluster.
type Error struct {
	Op     string // what was asked, e.g. "cluster health"
	Class  observe.Class
	Status int    // HTTP status, when there was an answer
	Type   string // OpenSearch error type, e.g. "replication_exception"
	Detail string // short, credential-free explanation
	Err    error  // the underlying transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(string(e.Class))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Type != "" {
		b.WriteString(" ")
		b.WriteString(e.Type)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err, or "" when err is not an *Error.
func ClassOf(err error) observe.Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}

// AsError returns err as an *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func classifyTransport(op string, err error) *Error {
	e := &Error{Op: op, Err: err, Class: observe.ClassNetwork}
	var (
		dnsErr   *net.DNSError
		netErr   net.Error
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		uaErr    x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalErr x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.Canceled):
		e.Class, e.Detail = observe.ClassCanceled, "request canceled"
	case errors.Is(err, context.DeadlineExceeded):
		e.Class, e.Detail = observe.ClassTimeout, "no answer before the probe timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Class, e.Detail = observe.ClassConnRefused, "connection refused"
	case errors.As(err, &dnsErr):
		e.Class, e.Detail = observe.ClassDNS, "cannot resolve "+dnsErr.Name
	case errors.As(err, &certErr), errors.As(err, &uaErr), errors.As(err, &hostErr), errors.As(err, &invalErr):
		e.Class, e.Detail = observe.ClassTLS, "certificate verification failed: "+tlsReason(err)
	case errors.As(err, &recErr):
		e.Class, e.Detail = observe.ClassTLS, "TLS handshake failed (is the server speaking plain HTTP?)"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		e.Class, e.Detail = observe.ClassTLS, "TLS handshake failed"
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Class, e.Detail = observe.ClassTimeout, "network timeout"
	case errors.Is(err, syscall.ECONNRESET):
		e.Detail = "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Detail = "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Detail = "connection closed before a complete answer"
	default:
		e.Detail = "network error"
	}
	return e
}

func tlsReason(err error) string {
	var (
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
	)
	switch {
	case errors.As(err, &uaErr):
		return "unknown authority (set ca_file)"
	case errors.As(err, &hostErr):
		return "certificate does not match the host name"
	default:
		return "invalid certificate"
	}
}

// errorBody is OpenSearch's error envelope. "error" is an object for most
// errors, and a plain string for some (e.g. "no handler found for uri").
type errorBody struct {
	Error  json.RawMessage `json:"error"`
	Status int             `json:"status"`
}

type errorDetail struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

func classifyStatus(op string, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status}
	typ, reason := parseErrorBody(body)
	e.Type, e.Detail = typ, truncate(reason, 300)
	switch {
	case status == 401 || status == 403:
		e.Class = observe.ClassAuth
	case (status == 400 || status == 404 || status == 405) && strings.Contains(reason, "no handler found"):
		e.Class = observe.ClassPluginMissing
		e.Detail = "the cross-cluster-replication plugin is not installed on this cluster"
	case status >= 500:
		e.Class = observe.ClassHTTP5xx
	default:
		e.Class = observe.ClassHTTP4xx
	}
	return e
}

func parseErrorBody(body []byte) (typ, reason string) {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || len(eb.Error) == 0 {
		return "", ""
	}
	var s string
	if json.Unmarshal(eb.Error, &s) == nil {
		return "", s
	}
	var d errorDetail
	if json.Unmarshal(eb.Error, &d) == nil {
		return d.Type, d.Reason
	}
	return "", ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
