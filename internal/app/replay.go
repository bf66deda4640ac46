package app

import (
	"fmt"
	"io"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/replay"
)

// ReplayOut is one pair's replay (`drwatch replay`): where the decisions
// of its recorded inputs under its policy differ from what happened, the
// check of the recorded run against the journal, and what could not be
// read.
type ReplayOut struct {
	*replay.Result
	Journal  *replay.JournalCheck `json:"journal,omitempty"`
	Warnings []string             `json:"warnings"`
}

// ReplayPair reads pair p's record of decision inputs from dir and runs it
// through the decision core under p's policy, between from and to (zero:
// unbounded), then compares the recorded run with the journal's history.
func ReplayPair(dir string, p *config.Pair, from, to time.Time) (ReplayOut, error) {
	inputs, warnings, err := record.Read(dir, p.Name)
	if err != nil {
		return ReplayOut{}, err
	}
	res, err := replay.Replay(p.Name, inputs, replay.Options{Policy: p.Resolved, From: from, To: to})
	if err != nil {
		return ReplayOut{}, err
	}
	out := ReplayOut{Result: res, Warnings: append([]string{}, warnings...)}
	rec, err := journal.Read(dir, p.Name)
	switch {
	case err != nil:
		out.Warnings = append(out.Warnings, "the journal was not compared: "+err.Error())
	case rec != nil:
		jc := replay.CheckJournal(res, rec.History)
		out.Journal = &jc
	}
	return out, nil
}

// Text prints the replay for people.
func (o ReplayOut) Text(w io.Writer) {
	replay.Text(w, o.Result, o.Journal)
	for _, warn := range o.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}
