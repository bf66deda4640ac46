package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/policy"
)

func (f *fixture) postJSON(t *testing.T, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: not JSON: %v", path, err)
	}
	return resp.StatusCode, out
}

// Drills on demand: only with the token; an unknown drill is a 404; a run
// answers 202 with its report's id, and the report is served as JSON.
func TestDrillAPI(t *testing.T) {
	f := newFixture(t, true, pairSpec{name: "orders", state: policy.Initial(time.Now())})
	ran := make(chan string, 1)
	f.d.drills.Exec = func(_ context.Context, d config.Drill, _ *config.Pair, _ drill.Pair, r *drill.Report, _ *drill.Report) {
		r.Result = drill.ResultPassed
		ran <- d.Name
	}
	f.d.drills.SetDrills([]config.Drill{{Name: "weekly", Pair: "orders", Type: drill.TypeReadiness, Schedule: config.Schedule{Spec: "@weekly"}}})

	if code, _ := f.postJSON(t, "/api/v1/drills/weekly/run", "", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("run without the token: %d", code)
	}
	if code, out := f.postJSON(t, "/api/v1/drills/nope/run", testToken, `{}`); code != http.StatusNotFound || !strings.Contains(out["error"].(string), "nope") {
		t.Fatalf("unknown drill: %d %v", code, out)
	}
	if code, out := f.postJSON(t, "/api/v1/drills/weekly/run", testToken, `{"by": 3}`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d %v", code, out)
	}
	code, out := f.postJSON(t, "/api/v1/drills/weekly/run", testToken, `{"by": "alice"}`)
	if code != http.StatusAccepted {
		t.Fatalf("run: %d %v", code, out)
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("the drill did not run")
	}
	id, _ := out["id"].(string)
	var rep drill.Report
	deadline := time.Now().Add(5 * time.Second)
	for rep.Result != drill.ResultPassed {
		if time.Now().After(deadline) {
			t.Fatalf("report %s never passed: %+v", id, rep)
		}
		resp, body := f.get(t, out["report"].(string))
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatalf("report: not JSON: %v", err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rep.ID != id || rep.By != "alice" || rep.Drill != "weekly" {
		t.Fatalf("report: %+v", rep)
	}
	resp, body := f.get(t, "/api/v1/drills")
	var list struct {
		Drills []drillInfo `json:"drills"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != 200 || len(list.Drills) != 1 || list.Drills[0].Last == nil || list.Drills[0].Last.ID != id {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "/api/v1/drills/weekly/reports/..%2f..%2fx"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a report id with a path in it: %d", resp.StatusCode)
	}
}

// While a failover drill owns a pair, the API refuses humans' commands
// (409, saying why) but release, which takes the pair back.
func TestReleaseFromDrill(t *testing.T) {
	now := time.Now()
	st, err := policy.DrillStart(policy.Initial(now), "monthly/20260301T040000.000Z-abcd", "drill monthly", now)
	if err != nil {
		t.Fatal(err)
	}
	promoted := policy.PromotionSucceeded(st.State, "1 index writable", now).State
	f := newFixture(t, true, pairSpec{name: "staging", state: promoted})
	code, out := f.postJSON(t, "/api/v1/pairs/staging/pause", testToken, `{}`)
	if code != http.StatusConflict || !strings.Contains(out["error"].(string), "release it from the drill") {
		t.Fatalf("pause of a drill's pair: %d %v", code, out)
	}
	code, out = f.postJSON(t, "/api/v1/pairs/staging/release", testToken, `{"reason": "report lost"}`)
	if code != http.StatusOK || out["state"] != "promoted" {
		t.Fatalf("release: %d %v", code, out)
	}
	if st := f.d.watchers[0].State(); st.Drill != "" {
		t.Fatalf("still the drill's: %+v", st)
	}
	code, _ = f.postJSON(t, "/api/v1/pairs/staging/release", testToken, `{}`)
	if code != http.StatusConflict {
		t.Fatalf("a second release: %d", code)
	}
}
