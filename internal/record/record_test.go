package record_test

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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
)

var t0 = time.Date(2025, 3, 10, 3, 10, 0, 0, time.UTC)

// obs is a healthy observation of three indices at second n; lag moves
// the leader's checkpoints (a different observation).
func obs(n int, lag int64) observe.Observation {
	o := observe.Observation{Pair: "orders", Time: t0.Add(time.Duration(n) * time.Second), Duration: time.Duration(30+n) * time.Millisecond, Requests: 7,
		Leader: observe.Leader{Reachable: true, Health: "green", ClusterName: "leader", Latency: time.Duration(n) * time.Microsecond}}
	o.Follower = observe.Follower{Reachable: true, Latency: 2 * time.Millisecond,
		Remote: observe.Remote{Alias: "leader", Known: true, Connected: true, Mode: "sniff", NodesConnected: 1}}
	r := &o.Follower.Replication
	for _, name := range []string{"logs", "orders", "users"} {
		r.Indices = append(r.Indices, observe.Index{Name: name, LeaderIndex: name, Shards: 2, State: observe.StateSyncing,
			LeaderCheckpoint: 1000 + lag, FollowerCheckpoint: 1000, Lag: lag, LagKnown: true,
			FollowerView: &observe.FollowerView{LeaderCheckpoint: 1000, FollowerCheckpoint: 1000}, OperationsWritten: 1000})
	}
	r.TotalLag, r.MaxLag, r.LagComplete, r.LeaderCheckpointsRead, r.Syncing = 3*lag, lag, true, true, 3
	r.LeaderSeqNoSum, r.ViewLeaderCheckpoint, r.ViewFollowerCheckpoint = 3000+3*lag, 3000, 3000
	o.Follower.Autofollow = observe.Autofollow{Rules: []observe.Rule{{Name: "all", Pattern: "*"}}}
	return o
}

// withAiven adds an Aiven reading taken at readAt: the leader service
// RUNNING, the follower's in a node recycle, the integration running; a
// reading of this cycle (requests 2) or carried (0), failed with f.
func withAiven(o observe.Observation, readAt time.Time, requests int64, f *observe.Failure) observe.Observation {
	o.Aiven = &observe.Aiven{ReadAt: readAt, Interval: 15 * time.Second,
		Leader:      &observe.AivenService{Name: "os-prod", State: observe.AivenRunning, NodesTotal: 3, NodesRunning: 3},
		Follower:    &observe.AivenService{Name: "os-dr", State: observe.AivenRebalancing, NodesTotal: 3, NodesRunning: 2, NotRunning: []observe.AivenNode{{Name: "os-dr-3", State: observe.NodeLeaving}}},
		Integration: &observe.AivenIntegration{Found: true, ID: "ccr-1", Active: true, Status: observe.IntegrationRunning}}
	o.AivenRequests = requests
	if f != nil {
		o.Aiven = &observe.Aiven{ReadAt: readAt, Interval: 15 * time.Second, Failure: f}
	}
	return o
}

func pol() *config.Policy {
	p := config.DefaultPolicy()
	p.MaintenanceWindows = []config.MaintenanceWindow{{Schedule: mustSchedule("0 2 * * SUN"), Duration: config.Duration(2 * time.Hour)}}
	return p
}

func mustSchedule(spec string) config.Schedule {
	p, err := record.Policy{Name: "x", ProbeInterval: "1s", ProbeTimeout: "1s", LeaderDownAfter: "1s", MaxObservationAge: "1s", ApprovalTimeout: "1s", Cooldown: "1s",
		MaintenanceWindows: []record.Window{{Schedule: spec, Duration: "1h"}}}.Config()
	if err != nil {
		panic(err)
	}
	return p.MaintenanceWindows[0].Schedule
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every kind of input comes back as written; an observation the same as
// the previous but for its timing takes a short line, and comes back
// whole.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := record.New(dir, "orders", record.Options{})
	st := policy.Initial(t0)
	want := []record.Input{
		record.Started(t0, st, pol(), true, record.WhyWatcher),
		record.Observed(t0.Add(time.Second), obs(1, 0)),
		record.Observed(t0.Add(2*time.Second), obs(2, 0)), // the same but for its timing
		record.Observed(t0.Add(3*time.Second), obs(3, 5)),
		record.Observed(t0.Add(4*time.Second), withAiven(obs(4, 5), t0.Add(4*time.Second), 2, nil)),
		record.Observed(t0.Add(5*time.Second), withAiven(obs(5, 5), t0.Add(4*time.Second), 0, nil)),
		record.Observed(t0.Add(6*time.Second), withAiven(obs(6, 5), t0.Add(4*time.Second), 0, nil)), // carried again: the same but for its timing
		record.Observed(t0.Add(7*time.Second), withAiven(obs(7, 5), t0.Add(7*time.Second), 2,
			&observe.Failure{Class: observe.ClassTimeout, Message: "aiven: get service acme/os-prod: no answer from the Aiven API before the deadline"})),
		record.Commanded(t0.Add(4*time.Second), policy.Command{Action: policy.ActPause, By: "alice", Reason: "upgrade", For: time.Hour}),
		record.Failed(t0.Add(5*time.Second), "stop failed", true),
		record.Succeeded(t0.Add(6*time.Second), "3 indices promoted"),
		record.Vetoed(t0.Add(7*time.Second), "veto hook gate", "change freeze"),
		record.Fenced(t0.Add(8*time.Second), "3 indices write-blocked"),
	}
	for _, in := range want {
		r.Add(in, st, pol())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(record.Path(dir, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d inputs:\n%s", len(lines), len(want), b)
	}
	if strings.Contains(lines[2], `"obs"`) || !strings.Contains(lines[1], `"obs"`) || !strings.Contains(lines[3], `"obs"`) {
		t.Fatalf("the unchanged observation is not compressed, or a changed one is:\n%s\n%s\n%s", lines[1], lines[2], lines[3])
	}
	if !strings.Contains(lines[4], `"aiven":{"read_at"`) || !strings.Contains(lines[5], `"aiven":{"read_at"`) || strings.Contains(lines[6], `"obs"`) ||
		!strings.Contains(lines[7], `"aiven":{"read_at"`) {
		t.Fatalf("the Aiven readings are not recorded as JSON, or the one carried unchanged is not compressed:\n%s\n%s\n%s\n%s", lines[4], lines[5], lines[6], lines[7])
	}
	if len(lines[2])*4 > len(lines[1]) {
		t.Fatalf("a repeated observation takes %d bytes, a whole one %d", len(lines[2]), len(lines[1]))
	}
	got, warnings, err := record.Read(dir, "orders")
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d inputs, wrote %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.Source != record.Path(dir, "orders")+":"+strconv.Itoa(i+1) {
			t.Fatalf("input %d source %q", i, g.Source)
		}
		g.Source, g.Timing = "", nil
		if jsonOf(t, w) != jsonOf(t, g) {
			t.Fatalf("input %d:\nwrote %s\nread  %s", i, jsonOf(t, w), jsonOf(t, g))
		}
	}
	p, err := got[0].Start.Policy.Config()
	if err != nil || jsonOf(t, record.PolicyOf(p)) != jsonOf(t, record.PolicyOf(pol())) || p.MaintenanceWindows[0].Schedule.Sched == nil {
		t.Fatalf("policy back: %v %+v", err, p)
	}
}

// config.Policy's keys are all in the record's Policy: a key added to
// the config must be added to the record, or a replay would drop it.
func TestPolicyKeepsEveryKey(t *testing.T) {
	cfgFields := reflect.TypeFor[config.Policy]().NumField()
	recFields := reflect.TypeFor[record.Policy]().NumField()
	if cfgFields != recFields {
		t.Fatalf("config.Policy has %d fields, record.Policy %d: keep them in step (PolicyOf, Config)", cfgFields, recFields)
	}
	bad := record.Policy{Name: "x", ProbeInterval: "soon"}
	if _, err := bad.Config(); err == nil || !strings.Contains(err.Error(), "probe_interval") {
		t.Fatalf("a bad duration: %v", err)
	}
}

// The record holds no secret: no field of an input is a config.Secret,
// or named like a credential.
func TestNoSecretsInTheRecord(t *testing.T) {
	secret := reflect.TypeFor[config.Secret]()
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty == secret {
			t.Fatalf("%s is a secret", path)
		}
		if ty.Kind() != reflect.Struct || seen[ty] {
			return
		}
		seen[ty] = true
		for f := range ty.Fields() {
			name := strings.ToLower(f.Name)
			for _, w := range []string{"password", "token", "secret", "apikey", "routingkey", "username"} {
				if strings.Contains(name, w) {
					t.Fatalf("%s.%s looks like a credential", path, f.Name)
				}
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[record.Input](), "Input")
	if !seen[reflect.TypeFor[observe.Observation]()] || !seen[reflect.TypeFor[policy.State]()] {
		t.Fatal("the walk missed the observation or the state")
	}
}

// The record is bounded: past MaxBytes it is rotated to one .1 file
// (the older one replaced), each file starting with a start line, and
// Read reads the two in order.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	const max = 8 << 10
	r := record.New(dir, "orders", record.Options{MaxBytes: max})
	st := policy.Initial(t0)
	r.Add(record.Started(t0, st, pol(), false, record.WhyWatcher), st, pol())
	const n = 200
	for i := 1; i <= n; i++ {
		r.Add(record.Observed(t0.Add(time.Duration(i)*time.Second), obs(i, int64(i))), st, pol())
	}
	_ = r.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files: %v", entries)
	}
	var total int64
	for _, name := range []string{"orders.inputs.jsonl.1", "orders.inputs.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
		if !strings.HasPrefix(string(b), `{"at":`) || !strings.Contains(strings.SplitN(string(b), "\n", 2)[0], `"kind":"start"`) {
			t.Fatalf("%s does not start with a start line: %.120s", name, b)
		}
		if int64(len(b)) > max+4<<10 {
			t.Fatalf("%s has %d bytes, the cap is %d", name, len(b), max)
		}
	}
	in, _, err := record.Read(dir, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if in[0].Kind != record.KindStart || in[0].Start.Why != record.WhyRotated {
		t.Fatalf("the .1 file starts with %s (%+v)", in[0].Kind, in[0].Start)
	}
	last := in[len(in)-1]
	if last.Kind != record.KindObservation || !last.Obs.Time.Equal(t0.Add(n*time.Second)) || last.Obs.Follower.Replication.TotalLag != 3*n {
		t.Fatalf("the last input read is %+v", last)
	}
	for i := 1; i < len(in); i++ {
		if in[i].At.Before(in[i-1].At) {
			t.Fatalf("inputs out of order at %d: %s before %s", i, in[i].At, in[i-1].At)
		}
	}
}

// A corrupt line stops the reading, named by file and line; a last line
// without its newline (a write in progress) is left out with a warning.
func TestCorruptAndTornLines(t *testing.T) {
	dir := t.TempDir()
	r := record.New(dir, "orders", record.Options{})
	st := policy.Initial(t0)
	r.Add(record.Started(t0, st, pol(), false, record.WhyWatcher), st, pol())
	for i := 1; i <= 4; i++ {
		r.Add(record.Observed(t0.Add(time.Duration(i)*time.Second), obs(i, 0)), st, pol())
	}
	_ = r.Close()
	path := record.Path(dir, "orders")
	b, _ := os.ReadFile(path)
	writeFile(t, path, string(b)+`{"at":"2025-03-10T03:10:05Z","kind":"observ`)
	in, warnings, err := record.Read(dir, "orders")
	if err != nil || len(in) != 5 || len(warnings) != 1 || !strings.Contains(warnings[0], "line 6 has no end") {
		t.Fatalf("torn last line: %v, %d inputs, warnings %v", err, len(in), warnings)
	}
	lines := strings.Split(string(b), "\n")
	lines[2] = `{"at":"2025-03-10T03:10:02Z","kind":"observation","timing":` // cut short
	writeFile(t, path, strings.Join(lines, "\n"))
	in, _, err = record.Read(dir, "orders")
	var ce *record.CorruptError
	if !errors.As(err, &ce) || ce.File != path || ce.Line != 3 || !strings.Contains(err.Error(), path+" line 3 is corrupt") || len(in) != 2 {
		t.Fatalf("corrupt line 3: %v (%d inputs before it)", err, len(in))
	}
	lines[2] = `{"at":"2025-03-10T03:10:02Z","kind":"rumour"}`
	writeFile(t, path, strings.Join(lines, "\n"))
	if _, _, err = record.Read(dir, "orders"); err == nil || !strings.Contains(err.Error(), `unknown kind "rumour"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, _, err := record.Read(dir, "nothing"); !errors.Is(err, record.ErrNoRecord) || !strings.Contains(err.Error(), record.Path(dir, "nothing")) {
		t.Fatalf("no record: %v", err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A write that fails returns at once, is counted every time and logged
// once; once writes succeed again the record resumes with a start line
// holding the state then, and a torn line left by the failure is cut.
func TestWriteFailureDoesNotStopTheWatcher(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "state")
	core, logs := observer.New(zap.InfoLevel)
	errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "e", Help: "e"})
	r := record.New(dir, "orders", record.Options{Log: zap.New(core), Errors: errs})
	st := policy.Initial(t0)
	for i := 1; i <= 3; i++ { // the directory does not exist
		r.Add(record.Observed(t0.Add(time.Duration(i)*time.Second), obs(i, 0)), st, pol())
	}
	if n := testutil.ToFloat64(errs); n != 3 {
		t.Fatalf("%v errors counted, want 3", n)
	}
	if n := logs.FilterMessageSnippet("record write failed").Len(); n != 1 {
		t.Fatalf("logged %d times, want once", n)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, record.Path(dir, "orders"), `{"at":"2025-03-10T03:10:00Z","kind":"start","start":{"why":"watcher started","state":{"phase":"healthy","since":"2025-03-10T03:10:00Z","failed_probes":0,"leader_checkpoint":0,"failed_reads":0,"reasons":null},"policy":{}, "drwatch_version":"x"}}`+"\n"+`{"at":"2025-03-10T03:1`)
	st.Phase = policy.Suspect
	r.Add(record.Observed(t0.Add(4*time.Second), obs(4, 0)), st, pol())
	if logs.FilterMessageSnippet("record writable again").Len() != 1 {
		t.Fatal("the recovery is not logged")
	}
	_ = r.Close()
	in, warnings, err := record.Read(dir, "orders")
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	if len(in) != 3 || in[1].Kind != record.KindStart || in[1].Start.Why != record.WhyResumed || in[1].Start.State.Phase != policy.Suspect ||
		in[2].Obs == nil || !in[2].Obs.Time.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("after the failure: %d inputs %+v", len(in), in)
	}
}

// BenchmarkAdd appends one probe cycle's observation (three indices): a
// changed one, and one the same as the previous but for its timing.
func BenchmarkAdd(b *testing.B) {
	for _, c := range []struct {
		name    string
		changed bool
	}{{"changed", true}, {"unchanged", false}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			r := record.New(dir, "orders", record.Options{MaxBytes: 1 << 40})
			st, p := policy.Initial(t0), pol()
			r.Add(record.Started(t0, st, p, false, record.WhyWatcher), st, p)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				lag := int64(0)
				if c.changed {
					lag = int64(i)
				}
				r.Add(record.Observed(t0.Add(time.Duration(i)*time.Second), obs(i, lag)), st, p)
			}
			b.StopTimer()
			_ = r.Close()
			fi, err := os.Stat(record.Path(dir, "orders"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size())/float64(i+1), "bytes/cycle")
		})
	}
}
