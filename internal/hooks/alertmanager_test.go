package hooks

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

const amToken = "am-proxy-t0ken-9f8e7d"

var amOK = answer{status: http.StatusOK}

func amConfig(url string) *config.Hook {
	return &config.Hook{Name: "am", Type: "alertmanager", URL: url + "/",
		Headers: map[string]string{"Authorization": "Bearer " + amToken, "X-Scope-OrgID": "dr"}}
}

// amGot is a postableAlert as Alertmanager reads it.
type amGot struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

func decodeAlerts(t *testing.T, r request) []amGot {
	t.Helper()
	if r.method != http.MethodPost || r.path != "/api/v2/alerts" {
		t.Fatalf("%s %s, want POST /api/v2/alerts", r.method, r.path)
	}
	var as []amGot
	if err := json.Unmarshal(r.body, &as); err != nil {
		t.Fatalf("not a JSON array of alerts: %v: %s", err, r.body)
	}
	return as
}

func amHook(t *testing.T, url string, resend time.Duration) *alertmanager {
	t.Helper()
	h := build(t, amConfig(url), Deps{Resend: resend}).(*alertmanager)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// postableAlerts (https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml):
// Alertmanager knows an alert by its labels, so the resolve carries the
// trigger's labels with endsAt now; and it ends an alert by itself when
// endsAt passes, so a firing alert is re-sent with endsAt moved on.
func TestAlertmanagerFiresResendsAndResolves(t *testing.T) {
	rcv := newReceiver(t, amOK)
	resend := 40 * time.Millisecond
	h := amHook(t, rcv.URL, resend)
	down := ev("leader_down")
	down.At = time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	down.Summary, down.State, down.StatusURL = "leader down", "leader_down", "http://dr:9464/api/v1/status"
	sent := time.Now()
	if err := h.Deliver(context.Background(), down); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.waitRequests(t, 4, 5*time.Second) // the trigger and three re-sends
	fire := decodeAlerts(t, reqs[0])
	if len(fire) != 1 {
		t.Fatalf("%d alerts, want 1", len(fire))
	}
	f := fire[0]
	wantLabels := map[string]string{"alertname": "DrwatchLeaderOutage", "pair": "orders", "severity": "critical",
		"incident_key": "drwatch/orders/outage", "source": "drwatch"}
	if !maps.Equal(f.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", f.Labels, wantLabels)
	}
	if f.Annotations["summary"] != "[orders] leader down" || f.Annotations["description"] != down.Text() ||
		f.Annotations["event"] != "leader_down" || f.Annotations["state"] != "leader_down" {
		t.Errorf("annotations %v", f.Annotations)
	}
	if !f.StartsAt.Equal(down.At) || f.GeneratorURL != down.StatusURL {
		t.Errorf("startsAt %s generatorURL %q, want the event's time %s and the status URL", f.StartsAt, f.GeneratorURL, down.At)
	}
	if !f.EndsAt.After(sent.Add(2 * resend)) {
		t.Errorf("endsAt %s, want about 3 re-send intervals after %s", f.EndsAt, sent)
	}
	for _, r := range reqs {
		if r.header.Get("Authorization") != "Bearer "+amToken || r.header.Get("X-Scope-OrgID") != "dr" {
			t.Errorf("headers %v lack the configured ones", r.header)
		}
	}
	prev := f.EndsAt
	for i, r := range reqs[1:] {
		as := decodeAlerts(t, r)
		if len(as) != 1 || !maps.Equal(as[0].Labels, f.Labels) || !as[0].StartsAt.Equal(f.StartsAt) {
			t.Fatalf("re-send %d: %+v, want the firing alert", i+1, as)
		}
		if !as[0].EndsAt.After(prev) {
			t.Errorf("re-send %d: endsAt %s not moved on from %s", i+1, as[0].EndsAt, prev)
		}
		prev = as[0].EndsAt
	}

	up := ev("leader_recovered")
	up.Summary = "leader recovered"
	before := time.Now()
	if err := h.Deliver(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	after := rcv.requests()
	// The last request: a re-send never lands after the resolve.
	res := decodeAlerts(t, after[len(after)-1])
	if len(res) != 1 || res[0].EndsAt.Before(before.Add(-time.Millisecond)) || res[0].EndsAt.After(time.Now()) {
		t.Fatalf("the last request %+v, want the alert resolved with endsAt now", res)
	}
	if !maps.Equal(res[0].Labels, f.Labels) {
		t.Errorf("resolve labels %v, want the trigger's %v", res[0].Labels, f.Labels)
	}
	if res[0].Annotations["summary"] != "[orders] leader recovered" || !res[0].StartsAt.Equal(f.StartsAt) {
		t.Errorf("resolve %+v", res[0])
	}
	n := len(rcv.requests())
	time.Sleep(5 * resend)
	if got := len(rcv.requests()); got != n {
		t.Errorf("%d requests after the resolve: a resolved alert must not be re-sent", got-n)
	}
}

// An open incident's severity only rises: a warning turned critical ends
// the warning alert and fires a critical one; a later warning keeps it
// critical; the resolve ends the critical one.
func TestAlertmanagerSeverityRises(t *testing.T) {
	rcv := newReceiver(t, amOK)
	h := amHook(t, rcv.URL, time.Hour)
	for _, e := range []string{"leader_suspect", "leader_down", "watcher_isolated", "leader_recovered"} {
		if err := h.Deliver(context.Background(), ev(e)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	reqs := rcv.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	type alert struct {
		severity string
		firing   bool
	}
	want := [][]alert{
		{{"warning", true}},
		{{"warning", false}, {"critical", true}},
		{{"critical", true}},
		{{"critical", false}},
	}
	var start time.Time
	for i, r := range reqs {
		as := decodeAlerts(t, r)
		if len(as) != len(want[i]) {
			t.Fatalf("request %d: %d alerts, want %d", i, len(as), len(want[i]))
		}
		for j, a := range as {
			if a.Labels["severity"] != want[i][j].severity || a.EndsAt.After(now) != want[i][j].firing {
				t.Errorf("request %d alert %d: severity %s endsAt %s, want %+v", i, j, a.Labels["severity"], a.EndsAt, want[i][j])
			}
			if i == 0 {
				start = a.StartsAt
			} else if !a.StartsAt.Equal(start) {
				t.Errorf("request %d alert %d: startsAt %s, want the first trigger's %s", i, j, a.StartsAt, start)
			}
		}
	}
}

// A resolve for an incident this hook did not fire (drwatch restarted
// since) ends it under every severity its triggers carry.
func TestAlertmanagerResolvesWhatItDidNotFire(t *testing.T) {
	rcv := newReceiver(t, amOK)
	h := amHook(t, rcv.URL, time.Hour)
	if err := h.Deliver(context.Background(), ev("promotion_succeeded")); err != nil {
		t.Fatal(err)
	}
	as := decodeAlerts(t, rcv.requests()[0])
	if len(as) != 2 || as[0].Labels["severity"] != "critical" || as[1].Labels["severity"] != "warning" {
		t.Fatalf("alerts %+v, want the outage ended as critical and as warning", as)
	}
	for _, a := range as {
		if a.Labels["alertname"] != "DrwatchLeaderOutage" || a.EndsAt.After(time.Now()) || !a.StartsAt.IsZero() {
			t.Errorf("alert %+v, want a resolved outage without startsAt", a)
		}
	}
}

func TestAlertmanagerNames(t *testing.T) {
	for e, want := range map[string]string{
		"leader_down": "DrwatchLeaderOutage", "replication_degraded": "DrwatchReplicationDegraded",
		"old_leader_returned": "DrwatchOldLeaderReturned", "journal_unwritable": "DrwatchJournalUnwritable",
		"drill_failed": "DrwatchDrillFailed",
	} {
		e2 := ev(e)
		if got := amLabels(&e2, e2.IncidentKey, e2.Severity)["alertname"]; got != want {
			t.Errorf("%s: alertname %s, want %s", e, got, want)
		}
	}
	if got := amAlertName("something-new"); got != "DrwatchIncident" {
		t.Errorf("an unknown kind: %s", got)
	}
	// A test fires once and is not re-sent: it ends by itself.
	rcv := newReceiver(t, amOK)
	h := amHook(t, rcv.URL, 20*time.Millisecond)
	if err := h.Deliver(context.Background(), Event{ID: "t", Event: "test", Pair: "orders", Test: true, Summary: "hooks test"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests for a test, want 1", len(reqs))
	}
	a := decodeAlerts(t, reqs[0])[0]
	if a.Labels["alertname"] != "DrwatchHookTest" || a.Labels["severity"] != "info" || a.Annotations["summary"] != "TEST - [orders] hooks test" {
		t.Errorf("test alert %+v", a)
	}
}

// The Dispatcher closes the hook when it closes: the re-sending stops.
func TestAlertmanagerStopsWithTheDispatcher(t *testing.T) {
	rcv := newReceiver(t, amOK)
	resend := 20 * time.Millisecond
	h := build(t, amConfig(rcv.URL), Deps{Resend: resend})
	d := Start([]Entry{{Hook: h, Events: []string{"leader_down"}}}, Options{})
	d.Notify(ev("leader_down"))
	rcv.waitRequests(t, 3, 5*time.Second)
	d.Close(context.Background())
	n := len(rcv.requests())
	time.Sleep(5 * resend)
	if got := len(rcv.requests()); got != n {
		t.Fatalf("%d re-sends after the Dispatcher closed", got-n)
	}
	if _, ok := h.(Incidents); !ok {
		t.Error("an alertmanager hook keeps incidents")
	}
}

// Alertmanager answers 200, 400 to an invalid alert (final) and 5xx.
func TestAlertmanagerRetriesAndSecrets(t *testing.T) {
	testRetriesAndSecrets(t, integration{config: amConfig, ok: amOK, secret: amToken})
	if _, err := Build(&config.Hook{Name: "am", Type: "alertmanager"}, Deps{}); err == nil {
		t.Error("an alertmanager hook without its url")
	}
}
