package app

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
)

// HookTest is what `drwatch hooks test` sent and what each hook answered:
// the test event's trigger, then its resolve (no test incident stays open).
type HookTest struct {
	IncidentKey      string
	Trigger, Resolve []hooks.Outcome
}

// TestHooks sends a clearly marked test event to the hooks of cfg (only
// the one named name, if not empty), naming pair, and then its resolve.
// An exec hook runs only when name names it: it may act whatever the
// event says.
func TestHooks(ctx context.Context, cfg *config.Config, name, pair string, log *zap.Logger) (HookTest, error) {
	d, err := hooks.FromConfig(cfg.Hooks, hooks.Deps{HTTP: &http.Client{}, Log: log}, hooks.Options{Log: log, MaxAttempts: 3}, nil)
	if err != nil {
		return HookTest{}, err
	}
	defer d.Close(context.Background())
	ev := TestEvent(cfg, pair, time.Now())
	types := map[string]string{}
	for _, h := range cfg.Hooks {
		types[h.Name] = h.Type
	}
	skip := func(h hooks.Hook) string {
		if name == "" && types[h.Name()] == "exec" {
			return "skipped: an exec hook may act whatever the event; run it with --hook " + h.Name()
		}
		return ""
	}
	out := HookTest{IncidentKey: ev.IncidentKey, Trigger: d.Send(ctx, name, ev, skip)}
	ev.Action, ev.Summary = hooks.Resolve, "test event resolved"
	out.Resolve = d.Send(ctx, name, ev, skip)
	return out, nil
}

// TestEvent is the event `drwatch hooks test` sends: marked as a test in
// its title, its fields and its incident key, and saying nothing happened.
func TestEvent(cfg *config.Config, pair string, now time.Time) hooks.Event {
	host, _ := os.Hostname()
	return hooks.Event{
		ID: pair + "-test-" + strconv.FormatInt(now.UnixNano(), 36), Event: "test", Pair: pair, State: "test", At: now,
		Summary: "test event from drwatch hooks test: nothing happened",
		Reasons: []string{"sent by `drwatch hooks test` on " + host + " to check this hook's delivery"},
		Next:    "nothing: this is a test", Action: hooks.Trigger, Severity: hooks.Notice,
		IncidentKey: hooks.Key(pair, hooks.KindTest), StatusURL: cfg.URL() + "/", Source: host, Test: true,
	}
}
