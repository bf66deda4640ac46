package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// The headers of a webhook delivery (docs/hooks.md).
const (
	HeaderEvent     = "X-Drwatch-Event"
	HeaderDelivery  = "X-Drwatch-Delivery"
	HeaderTimestamp = "X-Drwatch-Timestamp"
	HeaderSignature = "X-Drwatch-Signature"
)

// webhook posts the event's JSON (Event) to a URL. With a secret, the
// request is signed: X-Drwatch-Signature is "sha256=" and the hex
// HMAC-SHA256, keyed with the secret, of the X-Drwatch-Timestamp value, a
// ".", and the body. A receiver checks it with VerifySignature and
// rejects a timestamp more than 5 minutes away from its clock, so a
// recorded request cannot be replayed. Every attempt is signed afresh.
type webhook struct {
	name    string
	url     string
	key     string // the signing key: a credential ("" sends unsigned)
	headers map[string]string
	http    *http.Client
	now     func() time.Time
}

func newWebhook(h *config.Hook, d Deps) (Hook, error) {
	if h.URL == "" {
		return nil, fmt.Errorf("hooks[%s]: a webhook needs its url", h.Name)
	}
	hdr := make(map[string]string, len(h.Headers))
	for k, v := range h.Headers {
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	return &webhook{name: h.Name, url: h.URL, key: h.Secret.Reveal(), headers: hdr, http: d.HTTP, now: d.Now}, nil
}

func (w *webhook) Name() string { return w.name }

// Deliver posts the event. 2xx is delivered; 408, 429 and 5xx are
// retried; any other answer is final.
func (w *webhook) Deliver(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return Permanent(fmt.Errorf("webhook: encoding the event: %w", err))
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	hdr := maps.Clone(w.headers)
	if hdr == nil {
		hdr = map[string]string{}
	}
	// Set after the configured headers: those cannot replace them.
	hdr[HeaderEvent] = ev.Event
	hdr[HeaderDelivery] = ev.ID
	hdr[HeaderTimestamp] = ts
	if w.key != "" {
		hdr[HeaderSignature] = Sign(w.key, ts, body)
	}
	_, err = postBytes(ctx, w.http, "webhook", w.url, hdr, body)
	return redact(err, append(credentials(w.headers), w.key)...)
}

// Sign is the X-Drwatch-Signature of body sent at timestamp (Unix
// seconds, as in X-Drwatch-Timestamp): "sha256=" and the hex
// HMAC-SHA256 of timestamp + "." + body, keyed with key.
func Sign(key, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig (the X-Drwatch-Signature header) is
// key's signature of body sent at timestamp (the X-Drwatch-Timestamp
// header), comparing in constant time; false for an empty key. It does
// not judge the timestamp: a receiver must also reject one more than 5
// minutes from its clock, or a captured request can be replayed.
func VerifySignature(key, timestamp string, body []byte, sig string) bool {
	return key != "" && hmac.Equal([]byte(Sign(key, timestamp, body)), []byte(sig))
}
