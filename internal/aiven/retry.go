package aiven

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"
)

// Why drwatch builds the retrying HTTP client itself.
//
// go-client-codegen (client.go, retry.go, v0.237.0) wraps its requests in
// go-retryablehttp with RetryMax 6, RetryWaitMin 2s, RetryWaitMax 15s
// (env AIVEN_CLIENT_RETRY_*), waits that its own comment adds up to 67 s,
// with no per-attempt timeout and its logger silenced. A failover cannot
// wait that long blindly. The client's options could lower the numbers, but
// not log the retries, bound an attempt, or stop retrying when the next
// wait would outlast the caller's deadline; so drwatch hands the client its
// own go-retryablehttp client (DoerOpt), with the same retry policy, its
// own numbers (Options), a log line per retry, and the deadline check.

// callState is one call's retry bookkeeping, carried in the request's
// context from Client (which reads Attempts for the error) through the
// generated client to the retry hooks. One call's attempts run one after
// the other, so it needs no lock.
type callState struct {
	op       string
	method   string
	path     string
	attempts int
}

type callStateKey struct{}

func withCallState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, st)
}

func callStateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		return &callState{op: "aiven call"}
	}
	return st
}

// retryDoer is the aiven.Doer drwatch gives the generated client.
type retryDoer struct{ rc *retryablehttp.Client }

func (d retryDoer) Do(req *http.Request) (*http.Response, error) {
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, err
	}
	return d.rc.Do(rreq)
}

func newRetryDoer(o Options, log *zap.Logger) retryDoer {
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: o.Transport, Timeout: o.AttemptTimeout},
		RetryMax:     o.MaxAttempts - 1,
		RetryWaitMin: o.RetryWaitMin,
		RetryWaitMax: o.RetryWaitMax,
		Backoff:      backoff,
		// The last answer (status and body) goes back to the generated
		// client, which turns it into aiven.Error: the caller sees Aiven's
		// message, not "giving up after 3 attempts" (as the generated
		// client does it too).
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, attempt int) {
			st := callStateOf(req.Context())
			st.attempts, st.method, st.path = attempt+1, req.Method, req.URL.Path
		},
	}
	rc.CheckRetry = func(ctx context.Context, rsp *http.Response, err error) (bool, error) {
		retry, why := retryable(ctx, rsp, err)
		if !retry {
			return false, nil
		}
		st := callStateOf(ctx)
		if st.attempts >= o.MaxAttempts {
			return false, nil
		}
		wait := backoff(o.RetryWaitMin, o.RetryWaitMax, st.attempts-1, rsp)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+minAttemptTime {
			// Waiting would end at or past the deadline: give up now with
			// the API's real answer rather than "context deadline
			// exceeded" after a blind wait.
			log.Info("Aiven API call failed; no time left before its deadline for another attempt",
				zap.String("op", st.op), zap.String("cause", why), zap.Int("attempt", st.attempts),
				zap.Duration("left", time.Until(dl).Round(time.Millisecond)))
			return false, nil
		}
		log.Warn("Aiven API call failed; retrying",
			zap.String("op", st.op), zap.String("method", st.method), zap.String("path", st.path), zap.String("cause", why),
			zap.Int("attempt", st.attempts), zap.Int("max_attempts", o.MaxAttempts), zap.Duration("wait", wait))
		return true, nil
	}
	return retryDoer{rc: rc}
}

// minAttemptTime is the least time worth starting another attempt with.
const minAttemptTime = 500 * time.Millisecond

// retryable is the generated client's policy (go-client-codegen retry.go,
// checkRetry and isRetryable), said out loud: retryablehttp's base policy
// (connection errors except TLS-verification, scheme, header and redirect
// errors; 429; 5xx except 501), plus 408, 501, 417 on DELETE (a dependent
// resource pending), and two 404s Aiven gives while a service settles (a
// POST's "Service X does not exist"; "User avnadmin with component main not
// found"). why names the cause for the log, without the body.
func retryable(ctx context.Context, rsp *http.Response, err error) (retry bool, why string) {
	if ctx.Err() != nil {
		return false, ""
	}
	if base, _ := retryablehttp.ErrorPropagatedRetryPolicy(ctx, rsp, err); base {
		if err != nil {
			_, msg := transportClass(err)
			return true, msg
		}
		return true, "HTTP " + strconv.Itoa(rsp.StatusCode)
	}
	if err != nil || rsp == nil {
		return false, ""
	}
	switch rsp.StatusCode {
	case http.StatusRequestTimeout, http.StatusNotImplemented:
		return true, "HTTP " + strconv.Itoa(rsp.StatusCode)
	case http.StatusExpectationFailed:
		return rsp.Request != nil && rsp.Request.Method == http.MethodDelete, "HTTP 417 (dependent resource pending)"
	case http.StatusNotFound:
		body, ok := peekBody(rsp)
		if !ok {
			return false, ""
		}
		post := rsp.Request != nil && rsp.Request.Method == http.MethodPost
		if post && reServiceNotFound.Match(body) || reUserNotFound.Match(body) {
			return true, "HTTP 404 while the service settles"
		}
	}
	return false, ""
}

// The two settling-404 messages, as in go-client-codegen retry.go.
var (
	reServiceNotFound = regexp.MustCompile(`Service \S+ does not exist`)
	reUserNotFound    = regexp.MustCompile(`User (avnadmin|root) with component main not found`)
)

// peekBody reads a (small) error body and puts it back for the generated
// client, which reads it after the retry decision.
func peekBody(rsp *http.Response) ([]byte, bool) {
	if rsp.Body == nil {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(rsp.Body, 64<<10))
	_ = rsp.Body.Close()
	rsp.Body = io.NopCloser(bytes.NewReader(b))
	return b, err == nil
}

// backoff waits min, 2*min, 4*min... capped at max (attempt counts from
// 0 for the first retry). A Retry-After on 429 or 503 is honoured, capped
// at max too: retryablehttp's DefaultBackoff would wait as long as the
// server asks.
func backoff(lo, hi time.Duration, attempt int, rsp *http.Response) time.Duration {
	if rsp != nil && (rsp.StatusCode == http.StatusTooManyRequests || rsp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(rsp.Header.Get("Retry-After")); ok {
			return min(max(d, 0), hi)
		}
	}
	if attempt < 0 {
		attempt = 0
	}
	d := time.Duration(float64(lo) * math.Pow(2, float64(min(attempt, 30))))
	if d > hi || d <= 0 {
		return hi
	}
	return d
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t), true
	}
	return 0, false
}
