package app

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
)

// The commands that run without a daemon (drwatch history, drill,
// drill release) call these: the CLI parses, calls one and prints.

// ErrStateDirLocked: a daemon (or another command) holds the state_dir.
var ErrStateDirLocked = journal.ErrLocked

// History reads the journal record of every pair of cfg (only pair, if
// not empty) that has one.
func History(cfg *config.Config, pair string) ([]*journal.Record, error) {
	var recs []*journal.Record
	for _, p := range cfg.Pairs {
		if pair != "" && p.Name != pair {
			continue
		}
		r, err := journal.Read(cfg.StateDir, p.Name)
		if err != nil {
			return nil, err
		}
		if r != nil {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// RunDrillHere runs drill d in this process, with the pair's journal
// (under the state_dir lock) and hooks, as the daemon would; a failover
// drill's promotion interrupted earlier is resumed first (said on out).
func RunDrillHere(ctx context.Context, cfg *config.Config, d config.Drill, by string, log *zap.Logger, out io.Writer) (*drill.Report, error) {
	p, _ := cfg.Pair(d.Pair)
	w, closeAll, err := HandWatcher(cfg, p, log)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	if st := w.State(); st.Drill != "" && st.Phase == policy.Promoting {
		// No daemon resumes a drill's interrupted promotion here: this
		// process does (gracefully), then the drill finishes its restore.
		fmt.Fprintf(out, "resuming the interrupted promotion of failover drill %s from the journal\n", st.Drill)
		if _, err := w.Promote(ctx, true); err != nil {
			fmt.Fprintf(out, "the drill's promotion: %v\n", err)
		}
	}
	r := &drill.Runner{
		Pair: func(name string) (*config.Pair, drill.Pair, bool) {
			if name != p.Name {
				return nil, nil, false
			}
			return p, w, true
		},
		Store: drill.NewStore(cfg.StateDir), Metrics: metrics.New(), Log: log.Named("drill"),
	}
	r.SetHooks(cfg.Hooks)
	r.SetHA(cfg.HA)
	r.SetDrills(cfg.Drills)
	return r.Run(ctx, d.Name, by)
}
