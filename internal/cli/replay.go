package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/replay"
)

// replayOut is one pair's part of `drwatch replay --json`.
type replayOut struct {
	*replay.Result
	Journal  *replay.JournalCheck `json:"journal,omitempty"`
	Warnings []string             `json:"warnings"`
}

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
	var outs []replayOut
	found := false
	for i := range cfg.Pairs {
		p := &cfg.Pairs[i]
		if *pair != "" && p.Name != *pair {
			continue
		}
		found = true
		inputs, warnings, err := record.Read(dir, p.Name)
		if err != nil {
			fmt.Fprintf(stderr, "drwatch replay: pair %s: %v\n", p.Name, err)
			return ExitFailure
		}
		res, err := replay.Replay(p.Name, inputs, replay.Options{Policy: p.Resolved, From: from, To: to})
		if err != nil {
			fmt.Fprintf(stderr, "drwatch replay: pair %s: %v\n", p.Name, err)
			return ExitFailure
		}
		out := replayOut{Result: res, Warnings: append([]string{}, warnings...)}
		rec, err := journal.Read(dir, p.Name)
		switch {
		case err != nil:
			out.Warnings = append(out.Warnings, "the journal was not compared: "+err.Error())
		case rec != nil:
			jc := replay.CheckJournal(res, rec.History)
			out.Journal = &jc
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
		replay.Text(stdout, o.Result, o.Journal)
		for _, w := range o.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	}
	return ExitOK
}
