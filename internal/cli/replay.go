package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/drwatch/drwatch/internal/app"
)

// replayCmd runs the decision inputs recorded in state_dir through the
// decision core under the config's policies, and prints where the
// decisions differ from what happened (docs/replay.md).
func replayCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", stderr)
	path := fs.String("config", "", "config file: each pair is replayed under its policy there")
	stateDir := fs.String("state-dir", "", "read the record from this directory (default: the config's state_dir)")
	pair := fs.String("pair", "", "only this pair")
	fromS := fs.String("from", "", "replay from this time (RFC3339)")
	toS := fs.String("to", "", "replay up to this time (RFC3339)")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	var from, to time.Time
	for _, f := range []struct {
		name, v string
		to      *time.Time
	}{{"--from", *fromS, &from}, {"--to", *toS, &to}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			fmt.Fprintf(stderr, "drwatch replay: %s %q is not an RFC3339 time (such as 2025-01-31T03:10:00Z)\n", f.name, f.v)
			return ExitUsage
		}
		*f.to = t
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		fmt.Fprintf(stderr, "drwatch replay: --to %s is not after --from %s\n", *toS, *fromS)
		return ExitUsage
	}
	dir := cfg.StateDir
	if *stateDir != "" {
		dir = *stateDir
	}
	var outs []app.ReplayOut
	found := false
	for i := range cfg.Pairs {
		p := &cfg.Pairs[i]
		if *pair != "" && p.Name != *pair {
			continue
		}
		found = true
		out, err := app.ReplayPair(dir, p, from, to)
		if err != nil {
			fmt.Fprintf(stderr, "drwatch replay: pair %s: %v\n", p.Name, err)
			return ExitFailure
		}
		outs = append(outs, out)
	}
	if !found {
		fmt.Fprintf(stderr, "drwatch replay: %s has no pair %q\n", *path, *pair)
		return ExitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"pairs": outs}); err != nil {
			fmt.Fprintf(stderr, "drwatch replay: %v\n", err)
			return ExitFailure
		}
		return ExitOK
	}
	for _, o := range outs {
		o.Text(stdout)
	}
	return ExitOK
}
