package hooks

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// The webhook's path is its token: the credential.
const slackPath = "/services/T0FAKE00/B0FAKE00/s3cretSlackT0kenXYZ"

var slackOK = answer{status: http.StatusOK, body: "ok"}

func slackConfig(url string) *config.Hook {
	return &config.Hook{Name: "chat", Type: "slack", Secret: config.NewSecret(url + slackPath)}
}

// slackGot is a message as Slack reads it.
type slackGot struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"elements"`
	} `json:"blocks"`
}

func decodeSlack(t *testing.T, b []byte) slackGot {
	t.Helper()
	var m slackGot
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a Slack message: %v: %s", err, b)
	}
	if len(m.Blocks) == 0 || m.Blocks[0].Type != "header" || m.Blocks[0].Text == nil || m.Blocks[0].Text.Type != "plain_text" {
		t.Fatalf("the message does not start with a plain_text header: %s", b)
	}
	for _, bl := range m.Blocks {
		if bl.Text != nil && len([]rune(bl.Text.Text)) > 3000 {
			t.Errorf("a %s block of %d characters: Slack takes 3000", bl.Type, len(bl.Text.Text))
		}
	}
	return m
}

// body is every text of the message's sections and context, unescaped.
func (m slackGot) body() string {
	var b strings.Builder
	for _, bl := range m.Blocks[1:] {
		if bl.Text != nil {
			b.WriteString(bl.Text.Text + "\n")
		}
		for _, e := range bl.Elements {
			b.WriteString(e.Text + "\n")
		}
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
}

func slackDeliver(t *testing.T, e Event) slackGot {
	t.Helper()
	rcv := newReceiver(t, slackOK)
	if err := build(t, slackConfig(rcv.URL), Deps{}).Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 1 || reqs[0].path != slackPath || reqs[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("requests %+v, want one JSON POST to the webhook URL", reqs)
	}
	return decodeSlack(t, reqs[0].body)
}

// An incoming webhook takes {"text", "blocks"}
// (https://api.slack.com/messaging/webhooks); for approval_required the
// message says how to answer: the id, the expiry, the approve and deny
// commands as code, and the API call.
func TestSlackApprovalMessage(t *testing.T) {
	ops := int64(220)
	e := ev("approval_required")
	e.Summary, e.State, e.From, e.Mode = "approval required: the leader is down", "awaiting_approval", "leader_down", "semi-auto"
	e.At = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e.Reasons = []string{"5 probes failed in 10s", "the follower lost the leader: 2 probes"}
	e.Next = "waits for a human until 12:15; then holds"
	e.Lag = &Lag{Operations: &ops, RPOGuardPasses: true, RPOGuard: "last lag 220 ops: estimated loss 230 operations <= 1000"}
	e.Approval = &Approval{ID: "orders-7f3a", ExpiresAt: e.At.Add(15 * time.Minute), OnExpiry: "hold",
		ApproveCommand: "drwatch approve --server http://dr:9464 --pair orders --id orders-7f3a --reason '...'",
		DenyCommand:    "drwatch deny --server http://dr:9464 --pair orders --id orders-7f3a --reason '...'",
		ApproveAPI:     `curl -X POST http://dr:9464/api/v1/pairs/orders/approve -d '{"id":"orders-7f3a","reason":"..."}'`}
	e.StatusURL, e.Source = "http://dr:9464/api/v1/status", "dr-host-1"

	m := slackDeliver(t, e)
	if !strings.Contains(m.Text, "[orders] approval required: the leader is down") {
		t.Errorf("fallback text %q", m.Text)
	}
	if h := m.Blocks[0].Text.Text; !strings.Contains(h, "[orders] approval required") || strings.Contains(h, "TEST") {
		t.Errorf("header %q", h)
	}
	body := m.body()
	for _, want := range []string{
		"`awaiting_approval` (was `leader_down`)", "semi-auto",
		"• 5 probes failed in 10s\n• the follower lost the leader: 2 probes",
		"*Next:* waits for a human until 12:15; then holds",
		"estimated loss 230 operations <= 1000", "passes",
		"`orders-7f3a`", "expires at 2026-03-01T12:15:00Z", "hold",
		"```" + e.Approval.ApproveCommand + "```", "```" + e.Approval.DenyCommand + "```",
		"`" + e.Approval.ApproveAPI + "`",
		"<http://dr:9464/api/v1/status|drwatch status>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the message lacks %q:\n%s", want, body)
		}
	}
}

func TestSlackMarksTestsAndEscapes(t *testing.T) {
	m := slackDeliver(t, Event{ID: "t", Event: "test", Pair: "orders", Test: true, Summary: "hooks test", State: "healthy"})
	if h := m.Blocks[0].Text.Text; !strings.Contains(h, "TEST - [orders] hooks test") {
		t.Errorf("header %q, want it marked TEST", h)
	}
	if !strings.HasPrefix(m.Text, "TEST") || !strings.Contains(m.body(), "nothing happened") {
		t.Errorf("a test not marked as one: %q\n%s", m.Text, m.body())
	}

	e := ev("replication_degraded")
	e.Reasons = []string{"lag 5000 > 1000 & rising <!channel>"}
	m = slackDeliver(t, e)
	raw := ""
	for _, b := range m.Blocks {
		if b.Text != nil {
			raw += b.Text.Text
		}
	}
	if !strings.Contains(raw, "lag 5000 &gt; 1000 &amp; rising &lt;!channel&gt;") || strings.Contains(raw, "<!channel>") {
		t.Errorf("a reason not escaped for mrkdwn: %s", raw)
	}
}

// Slack refuses with 400 invalid_payload, 403 invalid_token, 404
// no_service, 410 channel_is_archived (final), 429 with Retry-After
// (https://api.slack.com/messaging/webhooks#handling_errors,
// https://api.slack.com/apis/rate-limits). The URL is the credential: no
// error names it, whatever fails.
func TestSlackErrorsNeverNameTheURL(t *testing.T) {
	for _, c := range []struct {
		status    int
		body      string
		retryable bool
	}{
		{400, "invalid_payload", false}, {403, "invalid_token", false}, {403, "action_prohibited", false},
		{404, "no_service", false}, {404, "channel_not_found", false}, {410, "channel_is_archived", false},
		{429, "rate_limited", true}, {500, "rollup_error", true},
	} {
		rcv := newReceiver(t, answer{status: c.status, body: c.body, header: map[string]string{"Retry-After": "7"}})
		err := build(t, slackConfig(rcv.URL), Deps{}).Deliver(context.Background(), ev("leader_down"))
		if err == nil || !strings.Contains(err.Error(), c.body) {
			t.Fatalf("%d %s: err %v", c.status, c.body, err)
		}
		r, after := Retryable(err)
		if r != c.retryable || (c.status == 429 && after != 7*time.Second) {
			t.Errorf("%d: retryable %v after %s, want %v", c.status, r, after, c.retryable)
		}
		assertNoURL(t, err, rcv.URL+slackPath)
	}

	// No receiver at all: net/http's error names the URL.
	rcv := newReceiver(t, slackOK)
	dead := rcv.URL
	rcv.Close()
	err := build(t, slackConfig(dead), Deps{}).Deliver(context.Background(), ev("leader_down"))
	if r, _ := Retryable(err); err == nil || !r {
		t.Fatalf("connection refused: err %v, want a retryable one", err)
	}
	assertNoURL(t, err, dead+slackPath)
	// A URL net/url cannot parse.
	bad := "https://hooks.slack.com/services/T0/B0/s3cretSlackT0kenXYZ\x7f"
	err = build(t, &config.Hook{Name: "chat", Type: "slack", Secret: config.NewSecret(bad)}, Deps{}).Deliver(context.Background(), ev("leader_down"))
	if err == nil {
		t.Fatal("an unparsable URL delivered")
	}
	assertNoURL(t, err, bad)
}

func assertNoURL(t *testing.T, err error, u string) {
	t.Helper()
	if strings.Contains(err.Error(), "s3cretSlackT0kenXYZ") || strings.Contains(err.Error(), u) {
		t.Errorf("the error names the Slack URL: %v", err)
	}
}

func TestSlackRetriesAndSecrets(t *testing.T) {
	testRetriesAndSecrets(t, integration{config: slackConfig, ok: slackOK, secret: "s3cretSlackT0kenXYZ"})
	if _, ok := build(t, slackConfig("http://x"), Deps{}).(Incidents); ok {
		t.Error("a slack hook keeps no incidents")
	}
	if _, err := Build(&config.Hook{Name: "chat", Type: "slack"}, Deps{}); err == nil {
		t.Error("a slack hook without its URL")
	}
}

// A denial or a veto holds until a human approves: the message says who
// stopped it and how to promote anyway.
func TestSlackVetoSaysHowToPromoteAnyway(t *testing.T) {
	e := ev("promotion_vetoed")
	e.Approval = &Approval{By: "veto hook gate", Reason: "change freeze", ApproveCommand: "drwatch approve --server http://d:9464 --pair orders"}
	var b strings.Builder
	for _, blk := range slackMessage(&e).Blocks {
		if blk.Text != nil {
			b.WriteString(blk.Text.Text + "\n")
		}
	}
	text := b.String()
	for _, want := range []string{"veto hook gate", "change freeze", "To promote anyway", "drwatch approve --server http://d:9464 --pair orders"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
}
