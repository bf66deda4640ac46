package journal_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

func open(t *testing.T, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func sampleRecord() *journal.Record {
	return &journal.Record{
		Pair: "orders",
		State: policy.State{
			Phase:       policy.Promoting,
			Since:       t0,
			Outage:      policy.Outage{OutageStart: t0.Add(-5 * time.Minute), FailedProbes: 7},
			Witness:     policy.Witness{WitnessLostSince: t0.Add(-4 * time.Minute)},
			Checkpoints: policy.Checkpoints{LeaderCheckpoint: 12345, FailedReads: 42},
			Tracking:    policy.Tracking{LastGoodLag: &policy.LagReading{TotalOperations: 10, MaxOperations: 4, Indices: 3, At: t0.Add(-6 * time.Minute)}},
			ApprovalRequest: policy.ApprovalRequest{
				ApprovalRequested: t0.Add(-3 * time.Minute),
				Approval:          &policy.Answer{By: "alice", At: t0.Add(-2 * time.Minute), Reason: "leader DC down"},
			},
			Attempt: policy.Attempt{PromotionAttempts: 1},
			Reasons: []string{"approved by alice"},
		},
		Promotion: &promote.Promotion{
			ID:       "orders-1",
			Started:  t0.Add(-time.Minute),
			By:       "alice",
			Graceful: true,
			Plan:     map[string]string{"orders-1": "orders-1", "orders-2": "leader-orders-2"},
		},
		History: []journal.Transition{
			{At: t0.Add(-5 * time.Minute), From: policy.Healthy, To: policy.Suspect, Events: []policy.Event{"leader_suspect"}, Reasons: []string{"probe failed"}},
			{At: t0, From: policy.AwaitingApproval, To: policy.Promoting, Reasons: []string{"approved"}},
		},
	}
}

// The state's groups are embedded: a record is one flat JSON object, as
// records written before the state was grouped are, and those load.
func TestStateIsFlatJSON(t *testing.T) {
	dir := t.TempDir()
	flat := `{"version": 1, "pair": "orders", "history": [], "state": {"phase": "failed", "since": "2026-01-02T03:04:05Z",
		"outage_start": "2026-01-02T03:00:00Z", "failed_probes": 9, "witness_lost_since": "2026-01-02T03:01:00Z",
		"leader_checkpoint": 77, "failed_reads": 3, "approval_id": "req-1", "paused_by": "bob",
		"promotion_attempts": 2, "last_error": "boom", "old_leader_returned": true, "reasons": ["x"]}}`
	if err := os.WriteFile(filepath.Join(dir, "orders.json"), []byte(flat), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := journal.Read(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	s := r.State
	if s.FailedProbes != 9 || s.WitnessLostSince.IsZero() || s.LeaderCheckpoint != 77 || s.ApprovalID != "req-1" ||
		s.PausedBy != "bob" || s.PromotionAttempts != 2 || s.LastError != "boom" || !s.OldLeaderReturned {
		t.Fatalf("a flat record loads as %+v", s)
	}
	b, err := json.Marshal(sampleRecord().State)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"outage_start", "failed_probes", "witness_lost_since", "leader_checkpoint", "approval", "promotion_attempts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("state JSON has no top-level %q: %s", k, b)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	j := open(t, t.TempDir())
	r := sampleRecord()
	if err := j.Save(r); err != nil {
		t.Fatal(err)
	}
	if r.Version != journal.Version {
		t.Fatalf("Save did not stamp the version: %d", r.Version)
	}
	steps := []promote.Step{
		{Name: "plan", Target: "orders-1", Status: promote.StepDone, Detail: "orders-1", At: t0},
		{Name: "stop", Target: "orders-1", Status: promote.StepStarted, At: t0.Add(time.Second)},
	}
	if err := j.AppendSteps("orders", r.Promotion, steps...); err != nil {
		t.Fatal(err)
	}
	if len(r.Promotion.Steps) != 2 {
		t.Fatalf("AppendSteps did not extend p.Steps: %+v", r.Promotion.Steps)
	}
	// Steps of another promotion of the same pair are not this one's.
	other := &promote.Promotion{ID: "orders-0"}
	if err := j.AppendSteps("orders", other, promote.Step{Name: "stop", Target: "old", Status: promote.StepDone, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendSteps("orders", r.Promotion, promote.Step{Name: "stop", Target: "orders-1", Status: promote.StepDone, Detail: "replication stopped", At: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := j.AppendSteps("orders", r.Promotion); err != nil { // empty batch: no-op
		t.Fatal(err)
	}

	got, err := j.Load("orders")
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecord()
	want.Version = journal.Version
	want.Promotion.Steps = append(steps, promote.Step{Name: "stop", Target: "orders-1", Status: promote.StepDone, Detail: "replication stopped", At: t0.Add(2 * time.Second)})
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("round trip differs\n got %s %+v\nwant %s %+v", gj, got.Promotion.Steps, wj, want.Promotion.Steps)
	}
	if s, ok := got.Promotion.Last("stop", "orders-1"); !ok || s.Status != promote.StepDone {
		t.Fatalf("Last(stop, orders-1) = %+v, %v", s, ok)
	}
	if _, ok := got.Promotion.Last("stop", "old"); ok {
		t.Fatal("a step of another promotion was loaded")
	}

	// Without a promotion, no steps are read (and none are invented).
	r2 := &journal.Record{Pair: "logs", State: policy.Initial(t0)}
	if err := j.Save(r2); err != nil {
		t.Fatal(err)
	}
	got2, err := j.Load("logs")
	if err != nil {
		t.Fatal(err)
	}
	if got2.Promotion != nil || got2.State.Phase != policy.Healthy || !got2.State.Since.Equal(t0) {
		t.Fatalf("logs record = %+v", got2)
	}
}

func TestLoadMissingPair(t *testing.T) {
	j := open(t, t.TempDir())
	r, err := j.Load("orders")
	if r != nil || err != nil {
		t.Fatalf("Load of a missing pair = (%v, %v), want (nil, nil)", r, err)
	}
}

func TestLoadCorruptRecordIsAnError(t *testing.T) {
	valid := func(mut func(m map[string]any)) string {
		b, err := json.Marshal(sampleRecord())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["version"] = journal.Version
		mut(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	good := valid(func(map[string]any) {})
	cases := map[string]struct {
		body string
		want string
	}{
		"truncated":     {good[:len(good)/2], "corrupt"},
		"empty file":    {"", "corrupt"},
		"not json":      {"hello", "corrupt"},
		"unknown field": {valid(func(m map[string]any) { m["surprise"] = 1 }), "corrupt"},
		"unknown nested": {valid(func(m map[string]any) {
			m["state"].(map[string]any)["surprise"] = true
		}), "corrupt"},
		"wrong version": {valid(func(m map[string]any) { m["version"] = 2 }), "version 2"},
		"no version":    {valid(func(m map[string]any) { delete(m, "version") }), "version 0"},
		"wrong pair":    {valid(func(m map[string]any) { m["pair"] = "logs" }), `"logs"`},
		"empty phase":   {valid(func(m map[string]any) { m["state"].(map[string]any)["phase"] = "" }), "no phase"},
		"trailing junk": {good + "\n}garbage", "corrupt"},
		"two records":   {good + "\n" + good, "corrupt"},
		"wrong type":    {valid(func(m map[string]any) { m["history"] = "none" }), "corrupt"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			j := open(t, dir)
			p := filepath.Join(dir, "orders.json")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := j.Load("orders")
			if err == nil {
				t.Fatalf("Load accepted a bad record: %+v", r)
			}
			if r != nil {
				t.Fatalf("Load returned a record with its error: %+v", r)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file %s: %v", p, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		p := filepath.Join(dir, "orders.json")
		if err := os.Mkdir(p, 0o700); err != nil { // a directory cannot be read as a file, even by root
			t.Fatal(err)
		}
		r, err := j.Load("orders")
		if err == nil || r != nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("Load = (%v, %v), want an error naming %s", r, err, p)
		}
	})
}

func writeSteps(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, "orders.steps.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func stepLine(id, target string, status promote.StepStatus) string {
	b, _ := json.Marshal(map[string]any{"promotion": id, "step": promote.Step{Name: "stop", Target: target, Status: status, At: t0}})
	return string(b) + "\n"
}

func TestStepsLogTornAndCorrupt(t *testing.T) {
	t.Run("torn final line is ignored", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		if err := j.Save(sampleRecord()); err != nil {
			t.Fatal(err)
		}
		full := stepLine("orders-1", "orders-2", promote.StepDone)
		writeSteps(t, dir, stepLine("orders-1", "orders-1", promote.StepDone), full[:len(full)/2])
		r, err := j.Load("orders")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Promotion.Steps) != 1 || r.Promotion.Steps[0].Target != "orders-1" {
			t.Fatalf("steps = %+v", r.Promotion.Steps)
		}
	})
	t.Run("bad line in the middle is an error", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		if err := j.Save(sampleRecord()); err != nil {
			t.Fatal(err)
		}
		p := writeSteps(t, dir, stepLine("orders-1", "orders-1", promote.StepDone), "{\"promotion\":\"orders-1\",\"st\n", stepLine("orders-1", "orders-2", promote.StepDone))
		r, err := j.Load("orders")
		if err == nil {
			t.Fatalf("Load accepted a corrupt steps log: %+v", r.Promotion.Steps)
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("error should name %s and line 2: %v", p, err)
		}
	})
	t.Run("bad line of another promotion is still an error", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		if err := j.Save(sampleRecord()); err != nil {
			t.Fatal(err)
		}
		writeSteps(t, dir, "not json\n", stepLine("orders-1", "orders-2", promote.StepDone))
		if _, err := j.Load("orders"); err == nil {
			t.Fatal("Load accepted a corrupt steps log")
		}
	})
	// A crash tears the last append; after the restart the promotion goes
	// on appending. The new steps must not be glued onto the torn fragment
	// (which would lose them, and turn the fragment into corruption in the
	// middle of the log at the next append).
	t.Run("append after a torn line", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		if err := j.Save(sampleRecord()); err != nil {
			t.Fatal(err)
		}
		full := stepLine("orders-1", "orders-2", promote.StepStarted)
		writeSteps(t, dir, stepLine("orders-1", "orders-1", promote.StepDone), full[:len(full)-10])
		r, err := j.Load("orders")
		if err != nil {
			t.Fatal(err)
		}
		for _, tgt := range []string{"orders-2", "orders-3"} {
			if err := j.AppendSteps("orders", r.Promotion, promote.Step{Name: "stop", Target: tgt, Status: promote.StepDone, At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		r, err = j.Load("orders")
		if err != nil {
			t.Fatalf("Load after appending past a torn line: %v", err)
		}
		var targets []string
		for _, s := range r.Promotion.Steps {
			targets = append(targets, s.Target+"="+s.Status.String())
		}
		if want := []string{"orders-1=done", "orders-2=done", "orders-3=done"}; !reflect.DeepEqual(targets, want) {
			t.Fatalf("steps = %v, want %v", targets, want)
		}
	})
	// The last append lost only its newline: the step is complete and Load
	// reports it, so it must survive the next append too.
	t.Run("append after a complete line without newline", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir)
		if err := j.Save(sampleRecord()); err != nil {
			t.Fatal(err)
		}
		l2 := stepLine("orders-1", "orders-2", promote.StepDone)
		writeSteps(t, dir, stepLine("orders-1", "orders-1", promote.StepDone), strings.TrimSuffix(l2, "\n"))
		r, err := j.Load("orders")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Promotion.Steps) != 2 {
			t.Fatalf("steps = %+v", r.Promotion.Steps)
		}
		if err := j.AppendSteps("orders", r.Promotion, promote.Step{Name: "stop", Target: "orders-3", Status: promote.StepDone, At: t0}); err != nil {
			t.Fatal(err)
		}
		r, err = j.Load("orders")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if len(r.Promotion.Steps) != 3 {
			t.Fatalf("steps = %+v", r.Promotion.Steps)
		}
	})
}

func TestHistoryBounded(t *testing.T) {
	j := open(t, t.TempDir())
	r := &journal.Record{Pair: "orders", State: policy.Initial(t0)}
	n := journal.HistoryLimit + 57
	for i := range n {
		r.History = append(r.History, journal.Transition{At: t0.Add(time.Duration(i) * time.Second), From: policy.Healthy, To: policy.Suspect, Reasons: []string{strconv.Itoa(i)}})
	}
	if err := j.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := j.Load("orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) != journal.HistoryLimit {
		t.Fatalf("history has %d entries, want %d", len(got.History), journal.HistoryLimit)
	}
	// The newest are kept, in order.
	if first, last := got.History[0].Reasons[0], got.History[len(got.History)-1].Reasons[0]; first != strconv.Itoa(n-journal.HistoryLimit) || last != strconv.Itoa(n-1) {
		t.Fatalf("kept %s..%s, want %d..%d", first, last, n-journal.HistoryLimit, n-1)
	}
}

func TestOpenLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested") // created by Open
	j, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Dir() != dir {
		t.Fatalf("Dir() = %s", j.Dir())
	}
	j2, err := journal.Open(dir)
	if err == nil {
		j2.Close()
		t.Fatal("a second Open of a locked state_dir succeeded")
	}
	if !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if pid := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), pid) {
		t.Fatalf("error %q does not name the holder (%s)", err, pid)
	}
	// The failed Open must not have released or rewritten the holder's lock.
	if _, err := journal.Open(dir); !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("third Open: %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	j3, err := journal.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer j3.Close()
	b, err := os.ReadFile(filepath.Join(dir, ".lock"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file = %q, %v", b, err)
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	r := sampleRecord()
	for i := range 5 {
		r.State.FailedProbes = i
		if err := j.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temp files left behind: %v", tmp)
	}
	before, err := os.ReadFile(filepath.Join(dir, "orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "orders.json")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("record mode = %v, %v; want no group/other access", fi.Mode(), err)
	}

	// Works as root too: a record that cannot be encoded (time.Time refuses
	// years past 9999) fails before anything is written.
	t.Run("encode failure keeps the previous record", func(t *testing.T) {
		bad := sampleRecord()
		bad.State.Since = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := j.Save(bad); err == nil {
			t.Fatal("Save of an unencodable record succeeded")
		}
		after, err := os.ReadFile(filepath.Join(dir, "orders.json"))
		if err != nil || string(after) != string(before) {
			t.Fatalf("previous record did not survive: %v", err)
		}
		if got, err := j.Load("orders"); err != nil || got.State.FailedProbes != 4 {
			t.Fatalf("Load after a failed Save = %+v, %v", got, err)
		}
		if tmp := tempFiles(t, dir); len(tmp) != 0 {
			t.Fatalf("temp files left behind: %v", tmp)
		}
	})

	// Works as root too: the rename fails (the target is a non-empty
	// directory) after the temp file was written; the temp file is removed.
	t.Run("rename failure leaves no temp file", func(t *testing.T) {
		target := filepath.Join(dir, "blocked.json")
		if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		err := j.Save(&journal.Record{Pair: "blocked", State: policy.Initial(t0)})
		if err == nil {
			t.Fatal("Save over a directory succeeded")
		}
		if !strings.Contains(err.Error(), target) {
			t.Fatalf("error does not name %s: %v", target, err)
		}
		if tmp := tempFiles(t, dir); len(tmp) != 0 {
			t.Fatalf("temp files left behind: %v", tmp)
		}
		after, err := os.ReadFile(filepath.Join(dir, "orders.json"))
		if err != nil || string(after) != string(before) {
			t.Fatalf("another pair's record changed: %v", err)
		}
	})

	// Content is complete JSON ending in a newline, never a partial write.
	var m map[string]any
	if err := json.Unmarshal(before, &m); err != nil || !strings.HasSuffix(string(before), "}\n") {
		t.Fatalf("record is not complete JSON: %v", err)
	}
}

// The steps log's creation is made durable like a record's rename: its
// directory is fsynced once, when the file is new, not on every append.
func TestStepsLogCreationSyncsTheDirectory(t *testing.T) {
	j := open(t, t.TempDir())
	r := sampleRecord()
	if err := j.Save(r); err != nil {
		t.Fatal(err)
	}
	syncs := journal.CountDirSyncs(t)
	step := promote.Step{Name: "stop", Target: "orders-1", Status: promote.StepStarted, At: t0}
	if err := j.AppendSteps("orders", r.Promotion, step); err != nil {
		t.Fatal(err)
	}
	if *syncs != 1 {
		t.Fatalf("directory fsyncs after creating the steps log: %d, want 1", *syncs)
	}
	if err := j.AppendSteps("orders", r.Promotion, step); err != nil {
		t.Fatal(err)
	}
	if *syncs != 1 {
		t.Fatalf("directory fsyncs after appending to it: %d, want still 1", *syncs)
	}
}
