package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
)

// TestHooks sends a clearly marked test event to the hooks of cfg (only
// the one named name, if not empty), naming pair, then its resolve (no
// test incident stays open), and writes on out what each hook answered as
// it answers. An exec hook runs only when name names it: it may act
// whatever the event says. failed counts the deliveries that failed.
func TestHooks(ctx context.Context, cfg *config.Config, name, pair string, log *zap.Logger, out io.Writer) (failed int, err error) {
	d, err := hooks.FromConfig(cfg.Hooks, hooks.Deps{HTTP: &http.Client{}, Log: log}, hooks.Options{Log: log, MaxAttempts: 3}, nil)
	if err != nil {
		return 0, err
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
	for _, o := range d.Send(ctx, name, ev, skip) {
		switch {
		case o.Skipped != "":
			fmt.Fprintf(out, "%-20s %s\n", o.Hook, o.Skipped)
		case o.Err != nil:
			failed++
			fmt.Fprintf(out, "%-20s FAILED: %v\n", o.Hook, o.Err)
		default:
			fmt.Fprintf(out, "%-20s delivered (%s)\n", o.Hook, ev.IncidentKey)
		}
	}
	ev.Action, ev.Summary = hooks.Resolve, "test event resolved"
	for _, o := range d.Send(ctx, name, ev, skip) {
		switch {
		case o.Skipped != "":
		case o.Err != nil:
			failed++
			fmt.Fprintf(out, "%-20s FAILED to resolve the test incident: %v\n", o.Hook, o.Err)
		default:
			fmt.Fprintf(out, "%-20s test incident resolved\n", o.Hook)
		}
	}
	return failed, nil
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
