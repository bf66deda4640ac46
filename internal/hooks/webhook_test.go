package hooks

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

const whKey = "whsec-signing-k3y-0a1b2c"

var whOK = answer{status: http.StatusNoContent}

func whConfig(url string) *config.Hook {
	return &config.Hook{Name: "audit", Type: "webhook", URL: url + "/drwatch", Secret: config.NewSecret(whKey),
		Headers: map[string]string{"X-Tenant": "dr", "x-drwatch-signature": "sha256=forged"}}
}

// The webhook's contract is drwatch's own (docs/hooks.md):
// the event's JSON, signed over timestamp + "." + body with HMAC-SHA256
// (the scheme of https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
// and https://docs.stripe.com/webhooks#verify-manually, with Stripe's
// timestamp against replays).
func TestWebhookSignsTheEvent(t *testing.T) {
	rcv := newReceiver(t, whOK)
	now := time.Unix(1_780_000_000, 0)
	h := build(t, whConfig(rcv.URL), Deps{Now: func() time.Time { return now }})
	e := ev("approval_required")
	e.ID, e.State, e.Reasons = "01JQ8Z3V4", "awaiting_approval", []string{"leader down"}
	e.Approval = &Approval{ID: "orders-1", ApproveCommand: "drwatch approve --pair orders --id orders-1"}
	if err := h.Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 || reqs[0].path != "/drwatch" {
		t.Fatalf("requests %+v", reqs)
	}
	r := reqs[0]
	var got Event
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("the body is not the event's JSON: %v: %s", err, r.body)
	}
	if got.ID != e.ID || got.Event != "approval_required" || got.IncidentKey != "drwatch/orders/outage" ||
		got.Approval == nil || got.Approval.ApproveCommand != e.Approval.ApproveCommand || len(got.Reasons) != 1 {
		t.Errorf("event %+v", got)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "X-Drwatch-Event": "approval_required", "X-Drwatch-Delivery": e.ID,
		"X-Drwatch-Timestamp": strconv.FormatInt(now.Unix(), 10), "X-Tenant": "dr",
	} {
		if v := r.header.Get(k); v != want {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
	ts, sig := r.header.Get("X-Drwatch-Timestamp"), r.header.Get("X-Drwatch-Signature")
	if !VerifySignature(whKey, ts, r.body, sig) {
		t.Fatalf("the signature %q does not verify (a configured header must not replace it)", sig)
	}
	tampered := append([]byte(nil), r.body...)
	tampered[len(tampered)-2] ^= 1
	for name, ok := range map[string]bool{
		"wrong key":          VerifySignature("another-key", ts, r.body, sig),
		"modified body":      VerifySignature(whKey, ts, tampered, sig),
		"modified timestamp": VerifySignature(whKey, strconv.FormatInt(now.Unix()+1, 10), r.body, sig),
		"empty key":          VerifySignature("", ts, r.body, Sign("", ts, r.body)),
		"no signature":       VerifySignature(whKey, ts, r.body, ""),
	} {
		if ok {
			t.Errorf("%s: the signature verifies", name)
		}
	}
}

func TestWebhookWithoutSecretIsUnsigned(t *testing.T) {
	rcv := newReceiver(t, whOK)
	h := build(t, &config.Hook{Name: "audit", Type: "webhook", URL: rcv.URL}, Deps{})
	if err := h.Deliver(context.Background(), ev("leader_down")); err != nil {
		t.Fatal(err)
	}
	r := rcv.requests()[0]
	if r.header.Get("X-Drwatch-Signature") != "" || r.header.Get("X-Drwatch-Timestamp") == "" {
		t.Errorf("headers %v: want a timestamp and no signature", r.header)
	}
	if _, ok := h.(Incidents); ok {
		t.Error("a webhook keeps no incidents")
	}
	if _, err := Build(&config.Hook{Name: "w", Type: "webhook"}, Deps{}); err == nil {
		t.Error("a webhook without its url")
	}
}

// 2xx is delivered; 408, 429 and 5xx are retried; any other 4xx is final.
func TestWebhookRetriesAndSecrets(t *testing.T) {
	testRetriesAndSecrets(t, integration{config: whConfig, ok: whOK, secret: whKey})
	for code, retry := range map[int]bool{408: true, 429: true, 502: true, 400: false, 401: false, 404: false, 410: false} {
		rcv := newReceiver(t, answer{status: code})
		err := build(t, whConfig(rcv.URL), Deps{}).Deliver(context.Background(), ev("leader_down"))
		if r, _ := Retryable(err); err == nil || r != retry {
			t.Errorf("%d: err %v retryable %v, want %v", code, err, r, retry)
		}
	}
}
