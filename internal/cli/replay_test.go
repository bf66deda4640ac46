package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/cli"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/record"
)

// drwatch replay: flags, errors that name the problem, and a run over a
// small record with JSON that parses.
func TestReplayCommand(t *testing.T) {
	cfg := writeCfg(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	dir := t.TempDir()
	if code, _, errOut := run("replay", "--config", cfg, "--state-dir", dir); code != cli.ExitFailure ||
		!strings.Contains(errOut, "no record for pair orders in "+dir) {
		t.Fatalf("no record: %d %s", code, errOut)
	}
	if code, _, errOut := run("replay", "--config", cfg, "--from", "yesterday"); code != cli.ExitUsage || !strings.Contains(errOut, "--from \"yesterday\" is not an RFC3339 time") {
		t.Fatalf("bad --from: %d %s", code, errOut)
	}
	if code, _, errOut := run("replay", "--config", cfg, "--pair", "nope"); code != cli.ExitUsage || !strings.Contains(errOut, `has no pair "nope"`) {
		t.Fatalf("unknown pair: %d %s", code, errOut)
	}
	if code, _, errOut := run("replay", "--config", cfg+".missing"); code != cli.ExitFailure || !strings.Contains(errOut, cfg+".missing") {
		t.Fatalf("missing config: %d %s", code, errOut)
	}

	t0 := time.Date(2025, 3, 10, 3, 10, 0, 0, time.UTC)
	pol := config.DefaultPolicy()
	r := record.New(dir, "orders", record.Options{})
	st := policy.Initial(t0)
	r.Add(record.Started(t0, st, pol, false, record.WhyWatcher), st, pol)
	for i := 1; i <= 5; i++ {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		r.Add(record.Observed(at, observe.Observation{Pair: "orders", Time: at, Leader: observe.Leader{Reachable: true, Health: "green"}}), st, pol)
	}
	_ = r.Close()
	code, out, errOut := run("replay", "--config", cfg, "--state-dir", dir, "--json")
	var got struct {
		Pairs []struct {
			Pair     string   `json:"pair"`
			Inputs   int      `json:"inputs"`
			Same     bool     `json:"same"`
			Warnings []string `json:"warnings"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("replay --json: %d %v\n%s\n%s", code, err, out, errOut)
	}
	if len(got.Pairs) != 1 || got.Pairs[0].Pair != "orders" || got.Pairs[0].Inputs != 6 || !got.Pairs[0].Same {
		t.Fatalf("replay --json: %+v", got)
	}
	code, out, _ = run("replay", "--config", cfg, "--state-dir", dir, "--from", "2025-03-10T03:10:10Z", "--to", "2025-03-10T03:10:20Z")
	if code != 0 || !strings.Contains(out, "pair orders: 3 inputs") || !strings.Contains(out, "no differences") {
		t.Fatalf("replay --from --to: %d\n%s", code, out)
	}
}
