//go:build e2e && ccr

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// withHooks appends a hooks block to a config and checks it.
func withHooks(t *testing.T, cfg, hooks string) {
	t.Helper()
	writeFile(t, cfg, readFile(t, cfg)+"hooks:\n"+hooks)
	if code, _, errOut := runCLI(t, "check", "--config", cfg); code != 0 {
		t.Fatalf("config invalid: %s\n%s", errOut, readFile(t, cfg))
	}
}

// hookEvents reads the events an exec hook appended to a file, one JSON
// object per line.
func hookEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s: a hook's stdin was not JSON: %v: %s", path, err, sc.Text())
		}
		out = append(out, ev)
	}
	return out
}

// hanging is an HTTP endpoint that reads each request and never answers.
type hanging struct {
	url  string
	held atomic.Int32 // requests read and not answered
}

func hangingEndpoint(t *testing.T) *hanging {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hanging{url: "http://" + ln.Addr().String() + "/drwatch"}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					h.held.Add(1)
				}
				<-done
			}()
		}
	}()
	return h
}

// One leader kill, two daemons in auto mode on two sets of indices of the
// real lab:
//   - "veto" has an exec veto hook that says no (a change freeze): drwatch
//     does not promote its indices, holds in leader_down, and the reason is
//     in the journal and in the event another hook receives.
//   - "allow" has the same veto hook saying yes, and hooks that hang on
//     every event (an exec hook that sleeps far past the promotion, and a
//     webhook whose endpoint takes the request and never answers): it
//     promotes, with every acknowledged write, while both are still
//     hanging - a slow pager never delays detection or promotion.
func TestCCRVetoHookAndHangingHooks(t *testing.T) {
	dir := t.TempDir()
	vetoIdx := replicated(t, "veto", 1, 1)
	allowIdx := replicated(t, "allow", 1, 1)
	acked := map[string][]string{}
	for _, ix := range append(slices.Clone(vetoIdx), allowIdx...) {
		acked[ix] = writeIDs(t, ix, 0, 100)
	}

	vetoCfg, _ := decisionConfigIndices(t, "", "auto", scope("veto"))
	recorded := filepath.Join(dir, "veto-events.jsonl")
	withHooks(t, vetoCfg, fmt.Sprintf(`  - name: change-freeze
    type: exec
    command: ["/bin/sh", "-c", "echo checking the change calendar; echo change freeze until 06:00; exit 3"]
    events: [promotion_started]
    veto: true
    timeout: 10s
  - name: record
    type: exec
    command: ["/bin/sh", "-c", "cat >> %s; echo >> %s"]
    events: [leader_down, promotion_vetoed]
`, recorded, recorded))

	allowCfg, _ := decisionConfigIndices(t, "", "auto", scope("allow"))
	started, finished := filepath.Join(dir, "hang-started"), filepath.Join(dir, "hang-finished")
	hang := hangingEndpoint(t)
	withHooks(t, allowCfg, fmt.Sprintf(`  - name: change-freeze
    type: exec
    command: ["/bin/sh", "-c", "test \"$DRWATCH_VETO\" = 1 && test \"$DRWATCH_EVENT\" = promotion_started"]
    events: [promotion_started]
    veto: true
    timeout: 10s
  - name: hanging-pager
    type: exec
    command: ["/bin/sh", "-c", "echo $DRWATCH_EVENT >> %s; sleep 300; echo $DRWATCH_EVENT >> %s"]
    events: [leader_suspect, leader_down, promotion_succeeded]
    timeout: 5m
  - name: hanging-webhook
    type: webhook
    url: %s
    events: [leader_suspect, leader_down, promotion_started, promotion_succeeded]
    timeout: 5m
`, started, finished, hang.url))

	veto, allow := startDaemon(t, vetoCfg), startDaemon(t, allowCfg)
	for _, d := range []*daemon{veto, allow} {
		d.waitMetric(t, 60*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	}
	for _, ix := range append(slices.Clone(vetoIdx), allowIdx...) {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Fatalf("the guard passes, but the follower lacks %d acknowledged writes of %s", len(m), ix)
		}
	}

	killed := time.Now()
	killLeader(t)
	allow.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	promotedIn := time.Since(killed)
	// The hanging hook got the outage's first event and is still on it.
	if s := readFile(t, started); !strings.HasPrefix(s, "leader_suspect") {
		t.Fatalf("the hanging hook was not called: %q", s)
	}
	if _, err := os.Stat(finished); err == nil {
		t.Fatal("the hanging hook finished before the promotion: this test proves nothing")
	}
	if n := hang.held.Load(); n < 1 {
		t.Fatalf("the hanging webhook holds %d requests: it was not called, this test proves nothing", n)
	}
	for _, ix := range allowIdx {
		if m := missing(t, lab.FollowerURL, ix, acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d acknowledged writes lost", ix, len(m))
		}
		standalone(t, ix)
	}
	detect := leaderDownAt(t, allowCfg).Sub(killed)
	vetoDetect := leaderDownAt(t, vetoCfg).Sub(killed)
	t.Logf("MEASURE hanging hooks: leader_down %s after SIGKILL (the daemon without them: %s), promoted %s after",
		detect.Round(time.Millisecond), vetoDetect.Round(time.Millisecond), promotedIn.Round(time.Millisecond))
	// Detection is bounded by the policy, not by the hook: leader_down_after
	// 3s + 2 probe intervals + a probe's timeout.
	if limit := 3*time.Second + 2*500*time.Millisecond + 400*time.Millisecond; detect > limit {
		t.Errorf("with a hanging hook, detection took %s (over %s)", detect, limit)
	}

	if v, _ := allow.metric(t, `drwatch_hook_deliveries_total{event="promotion_started",hook="change-freeze",result="success"}`); v != "1" {
		t.Errorf("the veto hook that allows: deliveries{result=success} = %q, want 1", v)
	}
	stopsWithin(t, allow, 12*time.Second)
	if _, err := os.Stat(finished); err == nil {
		t.Error("the hanging exec hook finished: the stop did not cut it short")
	}

	// The veto: held in leader_down, nothing promoted, the reason journaled
	// and delivered.
	veto.waitMetric(t, 30*time.Second, `drwatch_events_total{event="promotion_vetoed",pair="lab"}`, "1")
	if s := veto.state(t); s != "leader_down" {
		t.Fatalf("vetoed pair is %s, want leader_down", s)
	}
	for _, ix := range vetoIdx {
		if !isFollower(t, ix) {
			t.Errorf("%s was promoted despite the veto", ix)
		}
	}
	for _, r := range []string{"success", "failure"} {
		if v, _ := veto.metric(t, fmt.Sprintf(`drwatch_promotions_total{pair="lab",result=%q}`, r)); v != "0" {
			t.Errorf("vetoed daemon: promotions{result=%s} = %s, want 0 (no attempt)", r, v)
		}
	}
	for result, want := range map[string]string{"vetoed": "1", "failure": "0", "success": "0"} {
		if v, _ := veto.metric(t, fmt.Sprintf(`drwatch_hook_deliveries_total{event="promotion_started",hook="change-freeze",result=%q}`, result)); v != want {
			t.Errorf("veto hook deliveries{result=%s} = %q, want %s (a veto is counted as vetoed, not as a failure)", result, v, want)
		}
	}
	hist := journalHistory(t, vetoCfg)
	last := hist[len(hist)-1]
	if last.To != "leader_down" || !slices.Contains(last.Events, "promotion_vetoed") {
		t.Fatalf("journal's last transition: %+v", last)
	}
	var rec struct {
		History []struct {
			Reasons []string `json:"reasons"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(filepath.Dir(vetoCfg), "lab.json"))), &rec); err != nil {
		t.Fatal(err)
	}
	if r := strings.Join(rec.History[len(rec.History)-1].Reasons, "\n"); !strings.Contains(r, "veto hook change-freeze: change freeze until 06:00 (exit status 3)") {
		t.Errorf("journal reasons lack the veto's: %s", r)
	}
	evs := hookEvents(t, recorded)
	var vetoed map[string]any
	for _, e := range evs {
		if e["event"] == "promotion_vetoed" {
			vetoed = e
		}
	}
	if vetoed == nil {
		t.Fatalf("no promotion_vetoed event reached the record hook: %v", evs)
	}
	reasons, _ := json.Marshal(vetoed["reasons"])
	if !strings.Contains(string(reasons), "change freeze until 06:00") || vetoed["state"] != "leader_down" {
		t.Errorf("promotion_vetoed event: %v", vetoed)
	}
	approval, _ := vetoed["approval"].(map[string]any)
	if cmd, _ := approval["approve_command"].(string); !strings.HasPrefix(cmd, "drwatch approve --server http://") || !strings.HasSuffix(cmd, "--pair lab") {
		t.Errorf("the vetoed event does not say how to approve: %v", approval)
	}
}

// The hanging hooks are still hanging; a stop does not wait for them past
// the shutdown's 10 s (plus the process's start-up of the stop).
func stopsWithin(t *testing.T, d *daemon, limit time.Duration) {
	t.Helper()
	start := time.Now()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exit:
	case <-time.After(limit):
		t.Fatalf("drwatch did not stop within %s of SIGTERM", limit)
	}
	t.Logf("MEASURE stopped %s after SIGTERM, with hanging hooks", time.Since(start).Round(time.Millisecond))
	if d.code != 0 {
		t.Errorf("drwatch exited %d, want 0 after a clean stop", d.code)
	}
}
