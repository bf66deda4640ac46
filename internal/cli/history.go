package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/app"
)

// historyCmd prints the journaled decisions of each pair: when, from what
// to what, the events, and why.
func historyCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("history", stderr)
	path := fs.String("config", "", "config file")
	pair := fs.String("pair", "", "only this pair")
	asJSON := fs.Bool("json", false, "print the journal records as JSON")
	cfg, rc := parseAndLoad(fs, args, path)
	if rc >= 0 {
		return rc
	}
	recs, err := app.History(cfg, *pair)
	if err != nil {
		fmt.Fprintf(stderr, "drwatch history: %v\n", err)
		return ExitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(recs); err != nil {
			return ExitFailure
		}
		return ExitOK
	}
	for _, r := range recs {
		fmt.Fprintf(stdout, "pair %s: %s since %s\n", r.Pair, r.State.Phase, r.State.Since.Format(time.RFC3339))
		for _, h := range r.History {
			ev := ""
			if len(h.Events) > 0 {
				ev = " [" + strings.Join(h.EventNames(), ", ") + "]"
			}
			fmt.Fprintf(stdout, "  %s  %s -> %s%s\n", h.At.Format("2006-01-02T15:04:05.000Z07:00"), h.From, h.To, ev)
			for _, why := range h.Reasons {
				fmt.Fprintf(stdout, "      %s\n", why)
			}
		}
		if p := r.Promotion; p != nil {
			fmt.Fprintf(stdout, "  promotion %s by %s, started %s", p.ID, p.By, p.Started.Format(time.RFC3339))
			if !p.Finished.IsZero() {
				fmt.Fprintf(stdout, ", finished %s", p.Finished.Format(time.RFC3339))
			}
			fmt.Fprintf(stdout, ", %d steps journaled\n", len(p.Steps))
		}
	}
	return ExitOK
}
