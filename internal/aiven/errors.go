package aiven

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	avn "github.com/aiven/go-client-codegen"
)

// Class says why an Aiven API call failed, in a word a caller can act on
// and a status page can show. It is a bounded set: safe as a metric label.
type Class string

// Failure classes.
const (
	// ClassUnauthorized: HTTP 401, the API did not accept the token
	// (missing, mistyped, expired or revoked).
	ClassUnauthorized Class = "unauthorized"
	// ClassForbidden: HTTP 403, the token is valid but may not do this
	// (the user or application token lacks the project's permission).
	ClassForbidden Class = "forbidden"
	// ClassNotFound: HTTP 404, the project, service or integration does
	// not exist (or not yet: a fresh integration may briefly 404).
	ClassNotFound Class = "not_found"
	// ClassConflict: HTTP 409, e.g. the integration already exists.
	ClassConflict Class = "conflict"
	// ClassRejected: any other 4xx: the request itself was refused.
	ClassRejected Class = "rejected"
	// ClassTransient: 5xx, 429 or 408 after the bounded retries: the API
	// is failing or overloaded; the same call may succeed later.
	ClassTransient Class = "transient"
	// ClassTimeout: no answer before the call's deadline.
	ClassTimeout Class = "timeout"
	// ClassNetwork: no HTTP answer at all (refused, reset, DNS, TLS).
	ClassNetwork Class = "network"
	// ClassCanceled: the caller canceled the call.
	ClassCanceled Class = "canceled"
	// ClassBadAnswer: a 2xx answer drwatch could not read.
	ClassBadAnswer Class = "bad_answer"
)

// Error is a failed Aiven API call. Its text never contains the token: the
// API's own message is scrubbed of it (a server may echo a request back),
// and the underlying error is kept only for transport failures, whose text
// Go's net/http writes from the URL, never from the headers.
type Error struct {
	Op       string // what was asked, e.g. "get service acme/os-prod"
	Class    Class
	Status   int    // HTTP status, when there was an answer
	Message  string // the API's message or a short explanation, token-free
	Attempts int    // HTTP attempts made (retries included)
	Err      error  // the transport or context error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("aiven: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Reason())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " [after %d attempts]", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Reason says in words what the class means for the operator.
func (e *Error) Reason() string {
	switch e.Class {
	case ClassUnauthorized:
		return "the Aiven API refused the token (check AIVEN_TOKEN or the pair's token_env/token_file)"
	case ClassForbidden:
		return "the token may not do this in the project (check the token's permissions)"
	case ClassNotFound:
		return "not found"
	case ClassConflict:
		return "conflict (already exists or in use)"
	case ClassRejected:
		return "the Aiven API rejected the request"
	case ClassTransient:
		return "the Aiven API is failing (server error or overload)"
	case ClassTimeout:
		return "no answer from the Aiven API before the deadline"
	case ClassNetwork:
		return "cannot reach the Aiven API"
	case ClassCanceled:
		return "canceled"
	case ClassBadAnswer:
		return "unreadable answer from the Aiven API"
	default:
		return string(e.Class)
	}
}

// ClassOf returns the class of err, or "" when err is not an *Error.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}

// IsNotFound reports whether err is an Aiven 404.
func IsNotFound(err error) bool { return ClassOf(err) == ClassNotFound }

// IsAlreadyExists reports whether err is the 409 "already exists" Aiven
// answers to a second create of the same integration.
func IsAlreadyExists(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Class == ClassConflict && strings.Contains(e.Message, "already exists")
}

// maxMessage bounds the API's message kept in an error.
const maxMessage = 300

// classify turns what the generated client returned into an *Error. token
// is scrubbed from every text kept.
func classify(op string, err error, attempts int, token string) *Error {
	e := &Error{Op: op, Attempts: attempts}
	var apiErr avn.Error
	switch {
	case errors.As(err, &apiErr):
		e.Status = apiErr.Status
		e.Message = scrub(apiMessage(apiErr), token)
		e.Class = classOfStatus(apiErr.Status)
	case errors.Is(err, context.Canceled):
		e.Class, e.Err = ClassCanceled, context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.Class, e.Err = ClassTimeout, context.DeadlineExceeded
	default:
		e.Class, e.Message = transportClass(err)
		if e.Class == ClassBadAnswer {
			e.Message = scrub(truncate(err.Error(), maxMessage), token)
		} else {
			e.Err = err
		}
	}
	return e
}

func classOfStatus(status int) Class {
	switch {
	case status == http.StatusUnauthorized:
		return ClassUnauthorized
	case status == http.StatusForbidden:
		return ClassForbidden
	case status == http.StatusNotFound:
		return ClassNotFound
	case status == http.StatusConflict:
		return ClassConflict
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return ClassTransient
	default:
		return ClassRejected
	}
}

// apiMessage is the API's "message", or the first of its "errors" when the
// message is empty (Aiven's failed-response shape: docs/aiven.md "REST
// shapes").
func apiMessage(e avn.Error) string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		if list, ok := e.Errors.([]any); ok && len(list) > 0 {
			if first, ok := list[0].(map[string]any); ok {
				msg, _ = first["message"].(string)
			}
		}
	}
	return truncate(msg, maxMessage)
}

// transportClass names a failure that produced no HTTP answer. A JSON
// decoding error of a 2xx body is the one non-transport error the
// generated client returns; it is a bad answer.
func transportClass(err error) (Class, string) {
	var (
		netErr  net.Error
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr):
		return ClassNetwork, "cannot resolve " + dnsErr.Name
	case errors.As(err, &certErr), errors.As(err, &uaErr), errors.As(err, &hostErr):
		return ClassNetwork, "TLS certificate verification failed"
	case errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout, "no answer within the attempt's timeout"
	case errors.As(err, &opErr):
		return ClassNetwork, opErr.Op + " failed"
	case strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "connection reset"):
		return ClassNetwork, "connection closed before a complete answer"
	case isDecodeError(err):
		return ClassBadAnswer, ""
	default:
		return ClassNetwork, "request failed"
	}
}

func isDecodeError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "json:") || strings.Contains(s, "invalid character") || strings.Contains(s, "unexpected end of JSON")
}

// scrub removes the token from s. An empty or very short token is not
// replaced (it would mangle unrelated text), and cannot leak much either.
func scrub(s, token string) string {
	if len(token) < 4 {
		return s
	}
	return strings.ReplaceAll(s, token, "<secret>")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
