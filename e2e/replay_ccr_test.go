//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// replayJSON is the part of `drwatch replay --json` the test reads.
type replayJSON struct {
	Pairs []struct {
		Pair        string             `json:"pair"`
		Inputs      int                `json:"inputs"`
		Same        bool               `json:"same"`
		Differences []replayDifference `json:"differences"`
		Replayed    struct {
			Transitions []struct {
				At     time.Time `json:"at"`
				To     string    `json:"to"`
				Events []string  `json:"events"`
			} `json:"transitions"`
		} `json:"replayed"`
		Journal *struct {
			Compared int    `json:"compared"`
			Matches  bool   `json:"matches"`
			Mismatch string `json:"mismatch"`
		} `json:"journal"`
	} `json:"pairs"`
}

func replayOf(t *testing.T, cfg string) (replayJSON, string) {
	t.Helper()
	code, out, errOut := runCLI(t, "replay", "--config", cfg, "--json")
	var r replayJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || len(r.Pairs) != 1 {
		t.Fatalf("replay --json (exit %d): %v\n%s\n%s", code, err, out, errOut)
	}
	code, text, errOut := runCLI(t, "replay", "--config", cfg)
	if code != 0 {
		t.Fatalf("replay (exit %d): %s", code, errOut)
	}
	return r, text
}

// variant writes a copy of cfg with its policy changed (from -> to): the
// same state_dir, so the same record.
func variant(t *testing.T, cfg, name string, changes ...string) string {
	t.Helper()
	s := readFile(t, cfg)
	for i := 0; i < len(changes); i += 2 {
		if !strings.Contains(s, changes[i]) {
			t.Fatalf("the config has no %q", changes[i])
		}
		s = strings.Replace(s, changes[i], changes[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), name+".yml")
	writeFile(t, path, s)
	return path
}

// A real outage, recorded: the leader SIGKILLed under an auto policy
// (down after 3 s and 3 failed probes), the follower promoted. drwatch
// replay then runs the record through the decision core: under the same
// policy it reproduces what happened exactly (the journal's transitions,
// no difference); a slower policy would have promoted about 10 s later, a
// faster one about 2 s earlier, a semi-auto one would have asked for
// approval instead.
func TestReplayRecordedOutage(t *testing.T) {
	idx := replicated(t, "replay", 1, 1)
	writeIDs(t, idx[0], 0, 50)
	cfg, _ := decisionConfigIndices(t, "", "auto", scope("replay"))
	d := startDaemon(t, cfg)
	d.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, idx[0]), "0")
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	killLeader(t)
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	// Enough of the outage recorded for the slower policy to decide in
	// it (13 s from its start): 18 s of probe cycles more.
	d.waitCycles(t, "lab", 36)
	if v, _ := d.metric(t, `drwatch_record_write_errors_total`); v != "0" {
		t.Fatalf("drwatch_record_write_errors_total = %q", v)
	}

	// (a) The same policy: what happened, exactly.
	same, text := replayOf(t, cfg)
	t.Logf("drwatch replay, the same policy:\n%s", text)
	p := same.Pairs[0]
	if !p.Same || len(p.Differences) != 0 || !strings.Contains(text, "no differences") {
		t.Fatalf("the same policy differs: %+v\n%s", p.Differences, text)
	}
	if p.Journal == nil || !p.Journal.Matches || p.Journal.Compared < 2 {
		t.Fatalf("journal check %+v", p.Journal)
	}
	hist := journalHistory(t, cfg)
	if len(hist) != len(p.Replayed.Transitions) {
		t.Fatalf("the journal has %d transitions, the replay %d", len(hist), len(p.Replayed.Transitions))
	}
	for i, h := range hist {
		r := p.Replayed.Transitions[i]
		if !h.At.Equal(r.At) || h.To != r.To || strings.Join(h.Events, ",") != strings.Join(r.Events, ",") {
			t.Fatalf("transition %d: journal %+v, replay %+v", i, h, r)
		}
	}

	// (b) A slower policy: 10 s more before the leader is down.
	slow, text := replayOf(t, variant(t, cfg, "slow", "leader_down_after: 3s", "leader_down_after: 13s"))
	t.Logf("drwatch replay, leader_down_after 13s:\n%s", text)
	dd := promotionTime(t, slow)
	if *dd.DeltaSeconds < 9 || *dd.DeltaSeconds > 11 || dd.LagOperations == nil || *dd.LagOperations != 0 || !strings.Contains(dd.Text, "later") {
		t.Fatalf("slower policy: %+v %q", dd, dd.Text)
	}

	// (c) A faster policy: 1 s and 2 failed probes.
	fast, text := replayOf(t, variant(t, cfg, "fast", "leader_down_after: 3s", "leader_down_after: 1s", "min_failed_probes: 3", "min_failed_probes: 2"))
	t.Logf("drwatch replay, leader_down_after 1s, min_failed_probes 2:\n%s", text)
	dd = promotionTime(t, fast)
	if *dd.DeltaSeconds > -0.9 || *dd.DeltaSeconds < -2.6 || !strings.Contains(dd.Text, "earlier") {
		t.Fatalf("faster policy: %+v %q", dd, dd.Text)
	}

	// (d) Semi-auto: it would have asked for approval when it promoted.
	semi, text := replayOf(t, variant(t, cfg, "semi", "mode: auto", "mode: semi-auto"))
	t.Logf("drwatch replay, semi-auto:\n%s", text)
	found := false
	for _, x := range semi.Pairs[0].Differences {
		if x.Kind == "approval_instead_of_promotion" && x.ReplayedAt != nil && x.RecordedAt != nil && x.ReplayedAt.Equal(*x.RecordedAt) {
			found = true
		}
	}
	if !found || !strings.Contains(text, "would have asked for approval at") {
		t.Fatalf("semi-auto: %+v\n%s", semi.Pairs[0].Differences, text)
	}

	// Errors: a bad config names its path; no record says where it looked.
	bad := variant(t, cfg, "bad", "mode: auto", "mode: sometimes")
	if code, _, errOut := runCLI(t, "replay", "--config", bad); code != 1 || !strings.Contains(errOut, bad) {
		t.Fatalf("bad config: exit %d %s", code, errOut)
	}
	empty := t.TempDir()
	if code, _, errOut := runCLI(t, "replay", "--config", cfg, "--state-dir", empty); code != 1 || !strings.Contains(errOut, "no record for pair lab in "+empty) {
		t.Fatalf("no record: exit %d %s", code, errOut)
	}
}

type replayDifference = struct {
	Kind          string     `json:"kind"`
	Text          string     `json:"text"`
	RecordedAt    *time.Time `json:"recorded_at"`
	ReplayedAt    *time.Time `json:"replayed_at"`
	DeltaSeconds  *float64   `json:"delta_seconds"`
	LagOperations *int64     `json:"lag_operations"`
}

func promotionTime(t *testing.T, r replayJSON) replayDifference {
	t.Helper()
	for _, d := range r.Pairs[0].Differences {
		if d.Kind == "promotion_time" && d.DeltaSeconds != nil {
			return d
		}
	}
	t.Fatalf("no promotion_time difference: %+v", r.Pairs[0].Differences)
	return replayDifference{}
}
