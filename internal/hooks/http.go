package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of a refusal's body an error quotes.
const maxErrorBody = 512

// postJSON sends body as JSON to target with headers and classifies the
// answer: nil for 2xx; Temporary for a transport error, 408, 429 (with
// its Retry-After) and 5xx; Permanent for the rest. The error never holds
// target (it may be a credential, as a Slack URL is): only what, the
// receiver's name for the error text. It returns the body of a 2xx.
func postJSON(ctx context.Context, c *http.Client, what, target string, headers map[string]string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: encoding the request: %w", what, err))
	}
	return postBytes(ctx, c, what, target, headers, b)
}

// postBytes is postJSON for a body already encoded: a signed webhook
// sends exactly the bytes it signed. headers cannot change Content-Type.
func postBytes(ctx context.Context, c *http.Client, what, target string, headers map[string]string, b []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: bad request: %w", what, Unwrapped(err)))
	}
	req.Header.Set("User-Agent", "drwatch")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		err = fmt.Errorf("%s: %w", what, Unwrapped(err))
		if ctx.Err() != nil {
			return nil, Temporary(fmt.Errorf("%w (timed out)", err), 0)
		}
		return nil, Temporary(err, 0)
	}
	defer func() { _ = resp.Body.Close() }()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return rb, nil
	}
	quote := strings.TrimSpace(string(rb))
	if len(quote) > maxErrorBody {
		quote = quote[:maxErrorBody] + "..."
	}
	err = fmt.Errorf("%s answered %s: %s", what, resp.Status, quote)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, Temporary(err, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return nil, Temporary(err, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return nil, Permanent(err)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. 0 when
// absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Unwrapped strips the URL net/http puts in its errors (*url.Error):
// a receiver's URL may hold a credential.
func Unwrapped(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// scrub replaces every secret in s by <secret>: the dispatcher's last line
// of defence before an error reaches a log or an exec hook's output.
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "<secret>")
		}
	}
	return s
}

// redact scrubs secrets from err's text and keeps whether it is worth a
// retry: a receiver may quote what it was sent (a routing key from the
// body, a key from a header) in its refusal, and the error is logged.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := scrub(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		return &DeliveryError{Err: errors.New(msg), Retryable: de.Retryable, RetryAfter: de.RetryAfter}
	}
	return errors.New(msg)
}

// credentials are the values of the headers among h that carry a
// credential by their name (Authorization, an API key or token), for
// redact.
func credentials(h map[string]string) []string {
	var out []string
	for k, v := range h {
		n := strings.ToLower(k)
		if strings.Contains(n, "auth") || strings.Contains(n, "key") || strings.Contains(n, "token") ||
			strings.Contains(n, "secret") || strings.Contains(n, "cookie") || strings.Contains(n, "password") {
			out = append(out, v, strings.TrimSpace(v[strings.IndexByte(v, ' ')+1:]))
		}
	}
	return out
}
