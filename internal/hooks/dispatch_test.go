package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/config"
)

func TestEveryEventHasAClass(t *testing.T) {
	for _, e := range config.Events {
		ev := Event{Event: e, Pair: "orders"}
		if !Classify(&ev) {
			t.Errorf("event %s has no class: add it to classes (and docs/hooks.md)", e)
		}
		if !strings.HasPrefix(ev.IncidentKey, "drwatch/orders/") {
			t.Errorf("%s: incident key %q", e, ev.IncidentKey)
		}
	}
	for e := range classes {
		if !slices.Contains(config.Events, e) {
			t.Errorf("class for %s, which config.Events does not know", e)
		}
	}
}

func ev(name string) Event {
	e := Event{Event: name, Pair: "orders", ID: name}
	Classify(&e)
	return e
}

func TestDeliveriesFilterAndImpliedResolves(t *testing.T) {
	pager := []string{"leader_down", "approval_required", "promotion_failed"}
	keys := func(evs []Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Event+"@"+e.IncidentKey)
		}
		return out
	}
	cases := []struct {
		name      string
		events    []string
		incidents bool
		ev        Event
		want      []string
	}{
		{"subscribed trigger", pager, true, ev("leader_down"), []string{"leader_down@drwatch/orders/outage"}},
		{"unsubscribed trigger", pager, true, ev("leader_suspect"), nil},
		{"the resolve of an incident it opens", pager, true, ev("leader_recovered"), []string{"leader_recovered@drwatch/orders/outage"}},
		{"a promotion closes the outage it opened, not the replication incident it never opened", pager, true, ev("promotion_succeeded"),
			[]string{"promotion_succeeded@drwatch/orders/outage"}},
		{"both incidents", []string{"leader_down", "replication_degraded"}, true, ev("promotion_succeeded"),
			[]string{"promotion_succeeded@drwatch/orders/outage", "promotion_succeeded@drwatch/orders/replication"}},
		{"not a resolve of another kind", pager, true, ev("replication_recovered"), nil},
		{"chat gets only what it asked for", pager, false, ev("leader_recovered"), nil},
		{"chat subscribed to a resolve", []string{"promotion_succeeded"}, false, ev("promotion_succeeded"), []string{"promotion_succeeded@drwatch/orders/outage"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := keys(deliveries(c.events, c.incidents, c.ev))
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// fakeHook answers each delivery with the next error of answers (then nil)
// and records what it got.
type fakeHook struct {
	name    string
	mu      sync.Mutex
	got     []Event
	answers []error
	block   chan struct{} // non-nil: Deliver waits for it or ctx
}

func (f *fakeHook) Name() string { return f.name }
func (f *fakeHook) Deliver(ctx context.Context, e Event) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, e)
	if len(f.answers) > 0 {
		err := f.answers[0]
		f.answers = f.answers[1:]
		return err
	}
	return nil
}

func (f *fakeHook) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func counter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drwatch_hook_deliveries_total"}, []string{"hook", "event", "result"})
}

func fast(int) time.Duration { return time.Millisecond }

func TestRetriesOnlyWhatARetryCanFix(t *testing.T) {
	cases := []struct {
		name    string
		answers []error
		calls   int
		result  string
	}{
		{"5xx then success", []error{Temporary(errors.New("503"), 0), Temporary(errors.New("502"), 0)}, 3, ResultSuccess},
		{"429 honours a short Retry-After", []error{Temporary(errors.New("429"), 5*time.Millisecond)}, 2, ResultSuccess},
		{"a timeout is retried", []error{context.DeadlineExceeded}, 2, ResultSuccess},
		{"4xx is not retried", []error{Permanent(errors.New("400 bad routing key"))}, 1, ResultFailure},
		{"gives up after MaxAttempts", []error{Temporary(errors.New("a"), 0), Temporary(errors.New("b"), 0), Temporary(errors.New("c"), 0)}, 3, ResultFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &fakeHook{name: "pd", answers: c.answers}
			m := counter()
			d := Start([]Entry{{Hook: h, Events: []string{"leader_down"}, Timeout: time.Second}},
				Options{Deliveries: m, MaxAttempts: 3, Backoff: fast})
			d.Notify(ev("leader_down"))
			d.Close(context.Background())
			if h.calls() != c.calls {
				t.Errorf("%d attempts, want %d", h.calls(), c.calls)
			}
			if got := testutil.ToFloat64(m.WithLabelValues("pd", "leader_down", c.result)); got != 1 {
				t.Errorf("deliveries{result=%s} = %v, want 1", c.result, got)
			}
		})
	}
}

func TestHangingHookNeverBlocksNotify(t *testing.T) {
	hang := &fakeHook{name: "hang", block: make(chan struct{})}
	quick := &fakeHook{name: "quick"}
	m := counter()
	d := Start([]Entry{
		{Hook: hang, Events: []string{"leader_down"}, Timeout: time.Hour},
		{Hook: quick, Events: []string{"leader_down"}, Timeout: time.Second},
	}, Options{Deliveries: m, QueueSize: 2, Backoff: fast})
	done := make(chan bool)
	go func() {
		for i := range 10 {
			d.Notify(ev("leader_down"))
			// The quick hook delivers each while the other hangs.
			deadline := time.Now().Add(5 * time.Second)
			for quick.calls() < i+1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		done <- quick.calls() == 10
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Errorf("the quick hook got %d events, want all 10 (the other hook's hang must not hold it back)", quick.calls())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Notify blocked behind a hanging hook")
	}
	// The hanging hook holds one event and queues two: seven are dropped.
	if got := testutil.ToFloat64(m.WithLabelValues("hang", "leader_down", ResultDropped)); got != 7 {
		t.Errorf("dropped = %v, want 7", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	d.Close(ctx) // gives up on the hanging hook
}

func TestSecretsScrubbedFromLogs(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	secret := "R0UT1NGKEYxyz"
	h := &fakeHook{name: "pd", answers: []error{Permanent(errors.New("POST https://x/" + secret + ": refused"))}}
	d := Start([]Entry{{Hook: h, Events: []string{"leader_down"}, Secrets: []string{secret}}}, Options{Log: zap.New(core)})
	d.Notify(ev("leader_down"))
	d.Close(context.Background())
	if logs.Len() == 0 {
		t.Fatal("no log of the failure")
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, secret) {
				t.Fatalf("secret in log line %q field %s", e.Message, f.Key)
			}
		}
	}
}

func TestTestEventsGoToEveryHook(t *testing.T) {
	a, b := &fakeHook{name: "a"}, &fakeHook{name: "b"}
	d := Start([]Entry{{Hook: a, Events: []string{"leader_down"}}, {Hook: b, Events: []string{"drill_failed"}}}, Options{})
	d.Notify(Event{Event: "test", Pair: "orders", Test: true})
	d.Close(context.Background())
	if a.calls() != 1 || b.calls() != 1 {
		t.Fatalf("test event: a got %d, b got %d, want 1 each", a.calls(), b.calls())
	}
}

// A full queue drops its oldest event: the resolve that closes an
// incident is never the one lost behind the triggers.
func TestFullQueueKeepsTheNewest(t *testing.T) {
	hang := &fakeHook{name: "pd", block: make(chan struct{})}
	m := counter()
	d := Start([]Entry{{Hook: hang, Events: []string{"leader_suspect", "leader_down", "leader_recovered"}, Timeout: time.Minute}},
		Options{Deliveries: m, QueueSize: 2, Backoff: fast})
	d.Notify(ev("leader_suspect")) // taken by the worker, which hangs
	for hang.calls() == 0 && len(d.subs[0].queue) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	for range 5 {
		d.Notify(ev("leader_down"))
	}
	d.Notify(ev("leader_recovered"))
	close(hang.block)
	d.Close(context.Background())
	names := []string{}
	for _, e := range hang.got {
		names = append(names, e.Event)
	}
	if len(names) == 0 || names[len(names)-1] != "leader_recovered" {
		t.Fatalf("delivered %v: the resolve must be delivered last", names)
	}
	if got := testutil.ToFloat64(m.WithLabelValues("pd", "leader_down", ResultDropped)); got != 4 {
		t.Errorf("dropped leader_down = %v, want 4", got)
	}
}

// A reload keeps a hook whose config did not change - the same worker,
// queue and state - and replaces the others; a reload that fails changes
// nothing.
func TestFromConfigTakesOverUnchangedHooks(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, file string) config.Hook {
		return config.Hook{Name: name, Type: "exec", Command: []string{"/bin/sh", "-c", "cat >> " + filepath.Join(dir, file) + "; echo >> " + filepath.Join(dir, file)},
			Events: []string{"leader_down"}, Timeout: config.Duration(5 * time.Second)}
	}
	keep, change := mk("keep", "keep"), mk("change", "change")
	d1, err := FromConfig([]config.Hook{keep, change}, Deps{}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := change
	changed.Timeout = config.Duration(7 * time.Second)
	bad := config.Hook{Name: "bad", Type: "carrier-pigeon", Events: []string{"leader_down"}}
	if _, err := FromConfig([]config.Hook{keep, bad}, Deps{}, Options{}, d1); err == nil {
		t.Fatal("a hook of an unknown type was built")
	}
	d2, err := FromConfig([]config.Hook{keep, changed}, Deps{}, Options{}, d1)
	if err != nil {
		t.Fatal(err)
	}
	if d2.subs[0] != d1.subs[0] || d2.subs[1] == d1.subs[1] {
		t.Fatal("the unchanged hook was not taken over, or the changed one was")
	}
	d1.Close(context.Background())
	d2.Notify(ev("leader_down"))
	d2.Close(context.Background())
	for _, f := range []string{"keep", "change"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.Count(string(b), `"event":"leader_down"`) != 1 {
			t.Errorf("%s: %v %q (the old dispatcher's Close must not stop a hook taken over)", f, err, b)
		}
	}
}

func TestVetoIsCountedAsVetoedNotFailure(t *testing.T) {
	m := counter()
	d := Start([]Entry{{Hook: execHookOf(t, "exit 1"), Events: []string{"promotion_started"}, Veto: true, Timeout: time.Second}}, Options{Deliveries: m})
	defer d.Close(context.Background())
	if err := d.Veto(context.Background(), ev("promotion_started")); err == nil {
		t.Fatal("no veto")
	}
	if v, f := testutil.ToFloat64(m.WithLabelValues("x", "promotion_started", ResultVetoed)), testutil.ToFloat64(m.WithLabelValues("x", "promotion_started", ResultFailure)); v != 1 || f != 0 {
		t.Fatalf("vetoed %v, failure %v", v, f)
	}
}
