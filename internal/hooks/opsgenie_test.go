package hooks

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/drwatch/drwatch/internal/config"
)

const ogKey = "eb243592-faa2-4ba2-a551-1afdf565c889"

var ogOK = answer{status: http.StatusAccepted, body: `{"result":"Request will be processed","took":0.1,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`}

func ogConfig(url string) *config.Hook {
	return &config.Hook{Name: "genie", Type: "opsgenie", URL: url, Secret: config.NewSecret(ogKey)}
}

// The Alert API (https://docs.opsgenie.com/docs/alert-api): create
// (#create-alert) POST /v2/alerts with the alias; close (#close-alert)
// POST /v2/alerts/{identifier}/close?identifierType=alias, the identifier
// URL-escaped; both with "Authorization: GenieKey <key>"
// (https://docs.opsgenie.com/docs/authentication).
func TestOpsgenieCreatesAndClosesByAlias(t *testing.T) {
	rcv := newReceiver(t, ogOK)
	h := build(t, ogConfig(rcv.URL), Deps{})
	down := ev("approval_required")
	down.Summary = strings.Repeat("x", 200)
	down.State, down.Reasons = "awaiting_approval", []string{"leader down for 30s"}
	if err := h.Deliver(context.Background(), down); err != nil {
		t.Fatal(err)
	}
	up := ev("leader_recovered")
	up.Summary = "leader recovered"
	if err := h.Deliver(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.header.Get("Authorization") != "GenieKey "+ogKey || r.method != http.MethodPost {
			t.Errorf("%s with Authorization %q, want POST with the GenieKey", r.method, r.header.Get("Authorization"))
		}
	}

	if reqs[0].path != "/v2/alerts" {
		t.Errorf("create to %s", reqs[0].path)
	}
	c := decodeObject(t, reqs[0].body)
	msg, _ := c["message"].(string)
	if utf8.RuneCountInString(msg) != ogMaxMessage || !strings.HasPrefix(msg, "[orders] xxx") {
		t.Errorf("message %q, want the title cut to %d characters", msg, ogMaxMessage)
	}
	want := map[string]any{"alias": "drwatch/orders/outage", "description": down.Text(), "entity": "orders", "source": "drwatch", "priority": "P1"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("create %s = %v, want %v", k, c[k], v)
		}
	}
	details, _ := c["details"].(map[string]any)
	for k, v := range details {
		if _, ok := v.(string); !ok {
			t.Errorf("details.%s = %v: Opsgenie takes a map of strings", k, v)
		}
	}
	if details["state"] != "awaiting_approval" || details["event"] != "approval_required" {
		t.Errorf("details = %v", details)
	}
	var tags []string
	for _, x := range c["tags"].([]any) {
		tags = append(tags, x.(string))
	}
	if !slices.Equal(tags, []string{"drwatch", "orders", "approval_required"}) {
		t.Errorf("tags = %v", tags)
	}

	// The alias has slashes: escaped, it stays one path segment.
	if reqs[1].escaped != "/v2/alerts/drwatch%2Forders%2Foutage/close" || reqs[1].query != "identifierType=alias" {
		t.Errorf("close to %s?%s, want /v2/alerts/drwatch%%2Forders%%2Foutage/close?identifierType=alias", reqs[1].escaped, reqs[1].query)
	}
	cl := decodeObject(t, reqs[1].body)
	if cl["source"] != "drwatch" || cl["note"] != up.Text() {
		t.Errorf("close = %v", cl)
	}
}

func TestOpsgeniePriorities(t *testing.T) {
	for e, want := range map[string]string{"leader_down": "P1", "leader_suspect": "P3", "replication_degraded": "P3", "journal_unwritable": "P1"} {
		rcv := newReceiver(t, ogOK)
		if err := build(t, ogConfig(rcv.URL), Deps{}).Deliver(context.Background(), ev(e)); err != nil {
			t.Fatal(err)
		}
		if p := decodeObject(t, rcv.requests()[0].body)["priority"]; p != want {
			t.Errorf("%s: priority %v, want %s", e, p, want)
		}
	}
	rcv := newReceiver(t, ogOK)
	test := Event{ID: "t", Event: "test", Pair: "orders", Test: true, Summary: "hooks test"}
	if err := build(t, ogConfig(rcv.URL), Deps{}).Deliver(context.Background(), test); err != nil {
		t.Fatal(err)
	}
	c := decodeObject(t, rcv.requests()[0].body)
	if c["priority"] != "P5" || c["alias"] != "drwatch/orders/test" || c["message"] != "TEST - [orders] hooks test" {
		t.Errorf("test event: %v", c)
	}
}

// recorder is a transport that records the URLs asked for and answers
// 202: where a hook sends, without a network.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return &http.Response{StatusCode: http.StatusAccepted, Status: "202 Accepted", Body: io.NopCloser(strings.NewReader(`{}`)),
		Header: http.Header{}, Request: req}, nil
}

// EU accounts use api.eu.opsgenie.com
// (https://docs.opsgenie.com/docs/european-service-region).
func TestOpsgenieRegions(t *testing.T) {
	for _, c := range []struct {
		region, url string
		want        string
	}{
		{"", "", "https://api.opsgenie.com/v2/alerts"},
		{"us", "", "https://api.opsgenie.com/v2/alerts"},
		{"eu", "", "https://api.eu.opsgenie.com/v2/alerts"},
		{"", "https://genie.example.com/", "https://genie.example.com/v2/alerts"},
	} {
		rt := &recorder{}
		h := build(t, &config.Hook{Name: "g", Type: "opsgenie", Region: c.region, URL: c.url, Secret: config.NewSecret(ogKey)},
			Deps{HTTP: &http.Client{Transport: rt}})
		if err := h.Deliver(context.Background(), ev("leader_down")); err != nil {
			t.Fatal(err)
		}
		if err := h.Deliver(context.Background(), ev("leader_recovered")); err != nil {
			t.Fatal(err)
		}
		closeURL := strings.TrimSuffix(c.want, "/v2/alerts") + "/v2/alerts/" + url.PathEscape("drwatch/orders/outage") + "/close?identifierType=alias"
		if !slices.Equal(rt.urls, []string{c.want, closeURL}) {
			t.Errorf("region %q url %q: sent to %v, want %s and %s", c.region, c.url, rt.urls, c.want, closeURL)
		}
	}
	if _, ok := build(t, ogConfig("http://x"), Deps{}).(Incidents); !ok {
		t.Error("an opsgenie hook keeps incidents")
	}
	if _, err := Build(&config.Hook{Name: "g", Type: "opsgenie"}, Deps{}); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("no API key: %v", err)
	}
}

// 401/403/422 are final, 429 and 5xx are retried
// (https://docs.opsgenie.com/docs/response#http-status-codes).
func TestOpsgenieRetriesAndSecrets(t *testing.T) {
	testRetriesAndSecrets(t, integration{config: ogConfig, ok: ogOK, secret: ogKey})
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity} {
		rcv := newReceiver(t, answer{status: code, body: `{"message":"Key format is not valid!","took":0.0,"requestId":"x"}`})
		err := build(t, ogConfig(rcv.URL), Deps{}).Deliver(context.Background(), ev("leader_down"))
		if r, _ := Retryable(err); err == nil || r {
			t.Errorf("%d: err %v retryable %v, want a final failure", code, err, r)
		}
	}
}

// Opsgenie takes at most 8000 characters of details
// (https://docs.opsgenie.com/docs/alerts-and-alert-fields): long values
// are cut, short ones kept.
func TestOpsgenieDetailsFit(t *testing.T) {
	rcv := newReceiver(t, ogOK)
	e := ev("replication_degraded")
	e.Reasons = []string{strings.Repeat("orders-2024.01.01 not syncing; ", 600)}
	e.Next = strings.Repeat("n", 9000)
	if err := build(t, ogConfig(rcv.URL), Deps{}).Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	details, _ := decodeObject(t, rcv.requests()[0].body)["details"].(map[string]any)
	total := 0
	for k, v := range details {
		total += utf8.RuneCountInString(k) + utf8.RuneCountInString(v.(string))
	}
	if total > ogMaxDetails || total < ogMaxDetails-100 {
		t.Errorf("details of %d characters, want at most (and about) %d", total, ogMaxDetails)
	}
	if details["incident_key"] != "drwatch/orders/replication" || details["event"] != "replication_degraded" {
		t.Errorf("short details cut: %v", details)
	}
	if r, n := details["reasons"].(string), details["next"].(string); !strings.HasSuffix(r, "…") || !strings.HasSuffix(n, "…") {
		t.Error("the long values are not marked as cut")
	}
}
