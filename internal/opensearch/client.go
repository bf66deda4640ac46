// Package opensearch is drwatch's thin layer over opensearch-go v4: it builds
// clients from config endpoints (TLS verification on by default, no retries
// for probes), adds typed calls for the cross-cluster-replication plugin that
// v4 lacks, counts HTTP requests, and classifies failures. It decides nothing.
package opensearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// MaxBodyBytes bounds how much of a response drwatch reads. follower_stats
// for 5,000 indices is about 2 MiB; this leaves ample room.
const MaxBodyBytes = 64 << 20

// Options tune a Client.
type Options struct {
	// Retry lets the transport retry 502/503/504 (for actions; probes
	// measure one attempt and do not retry).
	Retry bool
	// Transport replaces the HTTP transport (tests). TLS settings from the
	// endpoint are then the caller's business.
	Transport http.RoundTripper
	// UserAgent is sent with every request.
	UserAgent string
	// Side names the cluster in errors: "leader" or "follower".
	Side string
	// NextNode, for a probe (no Retry) of an endpoint with several urls:
	// a network error goes on to the next address in the same call. Only
	// for reads: a write whose answer was lost would be sent again.
	NextNode bool
}

// WithSide is o naming the cluster side in errors.
func (o Options) WithSide(side string) Options { o.Side = side; return o }

// Client talks to one cluster.
type Client struct {
	API      *opensearchapi.Client
	requests atomic.Int64
	target   string
	side     string // "leader", "follower"; "" when not told
	user     string // the configured username, for errors
}

// New builds a client for an endpoint.
func New(ep config.Endpoint, opts Options) (*Client, error) {
	if len(ep.Addresses) == 0 {
		return nil, errors.New("endpoint has no address")
	}
	addrs := make([]string, len(ep.Addresses))
	for i, u := range ep.Addresses {
		addrs[i] = u.String()
	}
	c := &Client{target: ep.Addresses[0].Host, side: opts.Side, user: ep.Username}
	base := opts.Transport
	if base == nil {
		tr, err := newTransport(ep)
		if err != nil {
			return nil, err
		}
		base = tr
	}
	// A probe measures one attempt: no retry - except that a cluster of
	// several addresses (urls:) is up when any node answers, so a network
	// error (a dead node: refused, reset) goes on to the next address
	// within the same call. An answer is never asked again.
	retry, maxRetries := opts.Retry, 3
	var onStatus []int // nil: opensearch-go's 502, 503, 504
	if !opts.Retry && opts.NextNode && len(addrs) > 1 {
		retry, maxRetries, onStatus = true, len(addrs)-1, []int{}
	}
	no := false
	hdr := http.Header{}
	if opts.UserAgent != "" {
		hdr.Set("User-Agent", opts.UserAgent)
	}
	api, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses:             addrs,
		Username:              ep.Username,
		Password:              ep.Password.Reveal(),
		Header:                hdr,
		Transport:             &countingTransport{next: base, n: &c.requests},
		DisableRetry:          !retry,
		MaxRetries:            maxRetries,
		RetryOnStatus:         onStatus,
		DiscoverNodesOnStart:  &no,
		HealthCheckMaxRetries: -1,
		MaxRetryClusterHealth: -1,
	}})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	c.API = api
	return c, nil
}

func newTransport(ep config.Endpoint) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: ep.InsecureSkipVerify} // #nosec G402 -- opt-in, warned at start
	if len(ep.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ep.CACert) {
			return nil, errors.New("ca_file holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // bounded by each call's context
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}, nil
}

// Requests is the number of HTTP round trips this client has made.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Target names the cluster for logs: host:port of its first address.
func (c *Client) Target() string { return c.target }

type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

// ownRequest marks the context of a request drwatch makes (Client.do).
type ownRequest struct{}

// errLibraryRequest refuses a request the client library makes of its own
// accord: opensearch-go polls GET /_nodes/_local/stats in the background
// and would demote a node it judges overloaded, which would stop drwatch's
// probes of a busy leader. drwatch sends only the requests it decides on
// (and a least-privilege user has no cluster:monitor/nodes/stats).
var errLibraryRequest = errors.New("not a request of drwatch's: refused")

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Context().Value(ownRequest{}) == nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, errLibraryRequest)
	}
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// request is an opensearch.Request for endpoints v4 has no type for.
type request struct {
	path   string // already escaped
	query  url.Values
	body   []byte
	header http.Header
}

func (r request) GetRequest(method string) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	u := r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequest(method, u, body) //nolint:noctx // the client attaches the context
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	return req, nil
}

// do performs a request and returns the body of a 2xx answer. Any other
// outcome is an *Error with its class. The body is read here, bounded
// while it is read (readBody): the client's Stream hands over the raw
// body, where opensearch-go's Do would buffer all of it first.
func (c *Client) do(ctx context.Context, op, method string, req request) ([]byte, error) {
	_, body, err := c.doAllow(ctx, op, method, req, 0)
	return body, err
}

// doAllow is do that also hands back, without an error, an answer whose
// status is allow (its status and body): a caller that reads a non-2xx
// answer itself.
func (c *Client) doAllow(ctx context.Context, op, method string, req request, allow int) (int, []byte, error) {
	httpReq, err := req.GetRequest(method)
	if err != nil {
		return 0, nil, &Error{Op: op, Class: observe.ClassNetwork, Detail: err.Error()}
	}
	resp, err := c.API.Client.Stream(httpReq.WithContext(context.WithValue(ctx, ownRequest{}, true)))
	if resp == nil {
		return 0, nil, c.explain(classifyTransport(op, ctxErr(ctx, err)))
	}
	body, rerr := readBody(resp)
	if err != nil {
		return 0, nil, c.explain(classifyTransport(op, ctxErr(ctx, err)))
	}
	if errors.Is(rerr, errTooLarge) {
		return 0, nil, &Error{Op: op, Class: observe.ClassMalformed, Status: resp.StatusCode, Detail: rerr.Error()}
	}
	if rerr != nil {
		return 0, nil, classifyTransport(op, ctxErr(ctx, rerr))
	}
	if (resp.StatusCode < 200 || resp.StatusCode > 299) && allow != anyStatus && (allow == 0 || resp.StatusCode != allow) {
		return resp.StatusCode, nil, c.explain(classifyStatus(op, resp.StatusCode, body))
	}
	return resp.StatusCode, body, nil
}

// anyStatus, as doAllow's allow, hands back every answer with its status
// and body: the caller classifies it.
const anyStatus = -1

var errTooLarge = fmt.Errorf("answer larger than %d MiB: not read", MaxBodyBytes>>20)

// readBody reads a response body of at most MaxBodyBytes, bounded while it
// reads: a declared length over the bound is refused before a byte is
// read, a declared length within it is read into one buffer of that size,
// and an undeclared (chunked) body stops one byte past the bound.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.Body == nil {
		return nil, nil
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxBodyBytes+1)); err != nil {
		return nil, err
	}
	if buf.Len() > MaxBodyBytes {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// ctxErr prefers the context's own error: a deadline is a timeout whatever
// the transport wrapped it in.
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil && err != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w: %w", ce, err)
	}
	return err
}

// decode parses a JSON body into out; a failure is a malformed response.
func decode(op string, body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Op: op, Class: observe.ClassMalformed, Detail: describeJSONError(err)}
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: got JSON %s, want %s", te.Field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	default:
		return "invalid JSON"
	}
}
