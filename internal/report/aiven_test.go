package report_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/report"
)

func aivenPair(a *observe.Aiven, requests int64) observe.Observation {
	t0 := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	o := observe.Observation{Pair: "orders", Time: t0, Requests: 7, AivenRequests: requests, Aiven: a,
		Leader: observe.Leader{Reachable: true, Health: "green", ClusterName: "leader"}}
	o.Follower = observe.Follower{Reachable: true, Remote: observe.Remote{Alias: "leader", Known: true, Connected: true, Mode: "sniff"},
		Replication: observe.Replication{Indices: []observe.Index{{Name: "orders", State: observe.StateSyncing, LagKnown: true}}, Syncing: 1, LagComplete: true}}
	return o
}

// What the Aiven API reports is in the problems (the API failing, a
// service off, the follower standalone), in the text (one line) and in
// the JSON (the observation's aiven object, read back as JSON).
func TestAivenInStatus(t *testing.T) {
	readAt := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	ok := &observe.Aiven{ReadAt: readAt, Interval: 15 * time.Second,
		Leader:      &observe.AivenService{Name: "os-prod", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3},
		Follower:    &observe.AivenService{Name: "os-dr", State: observe.AivenRebalancing, NodesTotal: 3, NodesRunning: 2, NotRunning: []observe.AivenNode{{Name: "os-dr-3", State: "leaving"}}},
		Integration: &observe.AivenIntegration{Found: true, ID: "ccr-1", Active: true, Status: "running"}}
	if p := report.Problems(aivenPair(ok, 0)); len(p) != 0 {
		t.Fatalf("a node recycle is not a problem: %q", p)
	}
	off := *ok
	off.Leader = &observe.AivenService{Name: "os-prod", State: observe.AivenPoweroff}
	off.Integration = &observe.AivenIntegration{}
	failing := &observe.Aiven{ReadAt: readAt, Interval: 15 * time.Second,
		Failure: &observe.Failure{Class: observe.ClassHTTP5xx, Status: 503, Message: "aiven: get service acme/os-prod: the Aiven API is failing (server error or overload) (HTTP 503): Service Unavailable"}}
	for _, c := range []struct {
		a    *observe.Aiven
		want []string
	}{
		{&off, []string{"Aiven reports leader service os-prod POWEROFF",
			"Aiven lists no cross-cluster replication integration between the pair's services: the follower service is standalone"}},
		{failing, []string{"Aiven API failing: aiven: get service acme/os-prod: the Aiven API is failing (server error or overload) (HTTP 503): Service Unavailable"}},
	} {
		if got := report.Problems(aivenPair(c.a, 2)); !slices.Equal(got, c.want) {
			t.Errorf("problems %q, want %q", got, c.want)
		}
	}

	st := report.Status{Pairs: []report.PairStatus{{Name: "orders", Mode: "manual", Problems: []string{}, Observation: ptr(aivenPair(ok, 2))}}}
	var text bytes.Buffer
	if err := report.Text(&text, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"7 HTTP requests + 2 to the Aiven API)",
		"  aiven      os-prod RUNNING, 3/3 nodes running; os-dr REBALANCING, 2/3 nodes running (os-dr-3 leaving); CCR integration running (read 15s earlier)\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := report.JSON(&js, st); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Pairs []struct {
			Observation struct {
				AivenRequests int64 `json:"aiven_requests"`
				Aiven         struct {
					ReadAt   time.Time `json:"read_at"`
					Interval int64     `json:"probe_interval_ns"`
					Leader   struct {
						State        string `json:"state"`
						NodesRunning int    `json:"nodes_running"`
					} `json:"leader_service"`
					Follower struct {
						NotRunning []observe.AivenNode `json:"nodes_not_running"`
					} `json:"follower_service"`
					Integration struct {
						Found  bool   `json:"found"`
						Status string `json:"status"`
					} `json:"integration"`
				} `json:"aiven"`
			} `json:"observation"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	a := doc.Pairs[0].Observation.Aiven
	if doc.Pairs[0].Observation.AivenRequests != 2 || !a.ReadAt.Equal(readAt) || a.Interval != int64(15*time.Second) || a.Leader.State != "RUNNING" ||
		a.Leader.NodesRunning != 3 || len(a.Follower.NotRunning) != 1 || a.Follower.NotRunning[0].State != "leaving" || !a.Integration.Found || a.Integration.Status != "running" {
		t.Fatalf("JSON aiven = %+v\n%s", a, js.String())
	}
}

func ptr[T any](v T) *T { return &v }
