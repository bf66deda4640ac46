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

	// Permission is the action the security plugin refused (403
	// security_exception "no permissions for [...]"), User the user it
	// refused it to.
	Permission string
	User       string
	// Certificate is why drwatch did not accept the certificate the
	// server presented: CertUnknownAuthority, CertHostname, CertExpired
	// or CertInvalid. A server that presents a certificate answered.
	Certificate string
}

// Why a server's certificate was not accepted (Error.Certificate).
const (
	CertUnknownAuthority = "unknown_authority"
	CertHostname         = "hostname"
	CertExpired          = "expired"
	CertInvalid          = "invalid"
)

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
		e.Class = observe.ClassTLS
		e.Certificate, e.Detail = certReason(err)
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

// certReason says in words why a certificate was not accepted.
func certReason(err error) (string, string) {
	var (
		uaErr    x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalErr x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &uaErr):
		return CertUnknownAuthority, "its certificate is signed by an authority drwatch does not trust (unknown CA): set ca_file to the CA that signed it"
	case errors.As(err, &hostErr):
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return CertHostname, fmt.Sprintf("its certificate is not valid for host %s (wrong host name; it is valid for %s)", hostErr.Host, strings.Join(names, ", "))
	case errors.As(err, &invalErr) && invalErr.Reason == x509.Expired:
		return CertExpired, "its certificate has expired or is not valid yet: " + invalErr.Detail
	default:
		return CertInvalid, "its certificate is invalid: " + err.Error()
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
		if typ == "security_exception" {
			e.Permission, e.User = refusal(reason)
		}
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

// refusal reads the action and the user of the security plugin's refusal,
// "no permissions for [ACTION] and User [name=USER, backend_roles=...]":
// the plugin's own record of what it checked, for the words drwatch says
// (the decision reads only the HTTP status and the error type).
func refusal(reason string) (permission, user string) {
	if rest, ok := strings.CutPrefix(reason, "no permissions for ["); ok {
		// an action's name may hold brackets: indices:admin/block/add[s]
		if p, _, ok := strings.Cut(rest, "] and User ["); ok {
			permission = strings.TrimSpace(p)
		}
	}
	if _, rest, ok := strings.Cut(reason, "User [name="); ok {
		if u, _, ok := strings.Cut(rest, ","); ok {
			user = strings.TrimSpace(u)
		}
	}
	return permission, user
}

// explain puts the cluster's side and drwatch's user into an auth or
// certificate error's words: "the follower refused
// indices:admin/plugins/replication/index/stop to user drwatch: add it to
// its role", never only "HTTP 403".
func (c *Client) explain(e *Error) *Error {
	side := c.side
	if side == "" {
		side = "the cluster"
	} else {
		side = "the " + side
	}
	user := e.User
	if user == "" {
		user = c.user
	}
	switch {
	case e.Certificate != "":
		e.Detail = side + " (" + c.target + ") presented a certificate drwatch does not accept: " + e.Detail
	case e.Status == 401 && c.user == "":
		e.Detail = side + " requires authentication: set username and password_file (or password_env)"
	case e.Status == 401:
		e.Detail = fmt.Sprintf("%s refused the credentials of user %s (wrong password, or no such user)", side, c.user)
	case e.Status == 403 && e.Permission != "":
		e.Detail = fmt.Sprintf("%s refused %s to user %s: add it to its role", side, e.Permission, user)
	case e.Status == 403 && e.Type == "security_exception":
		e.Detail = fmt.Sprintf("%s refused user %s: %s", side, user, e.Detail)
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
