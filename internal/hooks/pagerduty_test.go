package hooks

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/drwatch/drwatch/internal/config"
)

const pdKey = "R0UT1NGKEY0123456789abcdef012345" // 32 characters, as PagerDuty's

var pdOK = answer{status: http.StatusAccepted, body: `{"status":"success","message":"Event processed","dedup_key":"drwatch/orders/outage"}`}

func pdConfig(url string) *config.Hook {
	return &config.Hook{Name: "oncall", Type: "pagerduty", URL: url + "/v2/enqueue", Secret: config.NewSecret(pdKey)}
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("the request is not a JSON object: %v: %s", err, b)
	}
	return m
}

// The Events API v2: a trigger
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)
// carries routing_key, event_action, dedup_key and the payload; a resolve
// (https://developer.pagerduty.com/docs/events-api-v2/resolve-events/)
// only routing_key, event_action and the dedup_key of the trigger.
func TestPagerDutyTriggerThenResolveShareTheDedupKey(t *testing.T) {
	rcv := newReceiver(t, pdOK)
	h := build(t, pdConfig(rcv.URL), Deps{})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	down := ev("leader_down")
	down.At, down.State, down.Summary = at, "leader_down", "leader down: 5 probes failed in 10s"
	down.Reasons = []string{"5 probes failed", "the follower lost the leader too"}
	down.Source, down.StatusURL = "dr-host-1", "http://dr-host-1:9464/api/v1/status"
	if err := h.Deliver(context.Background(), down); err != nil {
		t.Fatal(err)
	}
	if err := h.Deliver(context.Background(), ev("leader_recovered")); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.method != http.MethodPost || r.path != "/v2/enqueue" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %s, want POST /v2/enqueue application/json", r.method, r.path, r.header.Get("Content-Type"))
		}
	}

	trig := decodeObject(t, reqs[0].body)
	want := map[string]any{"routing_key": pdKey, "event_action": "trigger", "dedup_key": "drwatch/orders/outage",
		"client": "drwatch", "client_url": down.StatusURL}
	for k, v := range want {
		if trig[k] != v {
			t.Errorf("trigger %s = %v, want %v", k, trig[k], v)
		}
	}
	p, _ := trig["payload"].(map[string]any)
	wantPayload := map[string]any{"summary": "[orders] leader down: 5 probes failed in 10s", "source": "dr-host-1",
		"severity": "critical", "timestamp": "2026-03-01T12:00:00Z", "component": "orders", "group": "drwatch", "class": "leader_down"}
	for k, v := range wantPayload {
		if p[k] != v {
			t.Errorf("payload.%s = %v, want %v", k, p[k], v)
		}
	}
	cd, _ := p["custom_details"].(map[string]any)
	if cd["pair"] != "orders" || cd["reasons"] != "5 probes failed\nthe follower lost the leader too" || cd["incident_key"] != "drwatch/orders/outage" {
		t.Errorf("custom_details = %v", cd)
	}
	links, _ := trig["links"].([]any)
	if len(links) != 1 {
		t.Fatalf("links = %v, want the status page", trig["links"])
	}
	if l, _ := links[0].(map[string]any); l["href"] != down.StatusURL || l["text"] != "drwatch status" {
		t.Errorf("links[0] = %v", l)
	}

	res := decodeObject(t, reqs[1].body)
	if keys := slices.Sorted(maps.Keys(res)); !slices.Equal(keys, []string{"dedup_key", "event_action", "routing_key"}) {
		t.Errorf("the resolve has %v, want only routing_key, event_action and dedup_key", keys)
	}
	if res["event_action"] != "resolve" || res["routing_key"] != pdKey || res["dedup_key"] != trig["dedup_key"] {
		t.Errorf("resolve = %v, want the trigger's dedup_key %v", res, trig["dedup_key"])
	}
}

func TestPagerDutyPayloadLimitsAndFallbacks(t *testing.T) {
	rcv := newReceiver(t, pdOK)
	h := build(t, pdConfig(rcv.URL), Deps{})
	long := ev("leader_suspect")
	long.Summary = strings.Repeat("é", 2000)
	test := Event{ID: "t1", Event: "test", Pair: "orders", Test: true, Summary: "hooks test"}
	for _, e := range []Event{long, test} {
		if err := h.Deliver(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rcv.requests()
	p, _ := decodeObject(t, reqs[0].body)["payload"].(map[string]any)
	summary, _ := p["summary"].(string)
	if n := utf8.RuneCountInString(summary); n != pdMaxSummary || !strings.HasPrefix(summary, "[orders] é") {
		t.Errorf("summary of %d characters, want it cut to %d", n, pdMaxSummary)
	}
	if p["severity"] != "warning" || p["source"] != "drwatch" {
		t.Errorf("severity %v source %v, want warning and the fallback source drwatch", p["severity"], p["source"])
	}
	if _, ok := decodeObject(t, reqs[0].body)["links"]; ok {
		t.Error("links without a status URL")
	}
	tb := decodeObject(t, reqs[1].body)
	tp, _ := tb["payload"].(map[string]any)
	if tb["dedup_key"] != "drwatch/orders/test" || tp["severity"] != "info" || tp["summary"] != "TEST - [orders] hooks test" {
		t.Errorf("test event: dedup_key %v severity %v summary %v", tb["dedup_key"], tp["severity"], tp["summary"])
	}
}

func TestPagerDutyDefaultsToTheEventsAPI(t *testing.T) {
	h := build(t, &config.Hook{Name: "pd", Type: "pagerduty", Secret: config.NewSecret(pdKey)}, Deps{})
	if u := h.(*pagerDuty).url; u != "https://events.pagerduty.com/v2/enqueue" {
		t.Fatalf("url = %s", u)
	}
	if _, ok := h.(Incidents); !ok {
		t.Fatal("a pagerduty hook keeps incidents")
	}
	if _, err := Build(&config.Hook{Name: "pd", Type: "pagerduty"}, Deps{}); err == nil || !strings.Contains(err.Error(), "routing key") {
		t.Fatalf("no routing key: %v", err)
	}
}

// PagerDuty answers 400 to an invalid event (final), 429 and 5xx to be
// tried again
// (https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic).
func TestPagerDutyRetriesAndSecrets(t *testing.T) {
	testRetriesAndSecrets(t, integration{config: pdConfig, ok: pdOK, secret: pdKey})
}
