package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/app"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// promoteOptions are the flags of `drwatch promote`.
type promoteOptions struct {
	Pair     string
	Graceful bool
	DryRun   bool
	By       string
	Reason   string
	// Confirm is asked after the plan is shown (nil: no confirmation).
	Confirm func(summary string) bool
	Out     io.Writer
	Log     *zap.Logger
}

// errNotConfirmed is returned when the operator declines.
var errNotConfirmed = errors.New("promotion not confirmed; nothing was changed")

// promoteNow promotes a pair by hand: it shows what drwatch sees and the
// plan, asks for confirmation, and only then takes the state_dir lock and
// runs the promotion through the same watcher, runner, executor and
// journal as the daemon (watch.Watcher.PromoteByHand). While a daemon
// owns the journal it refuses (use the daemon's API then). A dry run
// reads and writes no journal.
func promoteNow(ctx context.Context, cfg *config.Config, o promoteOptions) error {
	p, ok := cfg.Pair(o.Pair)
	if !ok {
		return fmt.Errorf("unknown pair %q", o.Pair)
	}
	if err := policy.Promotable(p, policy.ByHand); err != nil {
		return err
	}
	plan, err := app.PlanPromotion(ctx, p, o.Graceful, o.Out)
	if err != nil {
		return err
	}
	summary := plan.Summary
	fmt.Fprintf(o.Out, "\n%s\n", summary)
	if o.DryRun {
		fmt.Fprintln(o.Out, "dry-run: nothing was changed")
		return nil
	}
	if cfg.HA.Enabled {
		// Only the lease holder promotes, under its fencing check: this
		// process holds no lease, and must not act beside a daemon that does.
		return app.RefusedWithHA(cfg, p)
	}
	if o.Confirm != nil && !o.Confirm(summary) {
		return errNotConfirmed
	}
	w, closeJournal, err := app.HandWatcher(cfg, p, o.Log)
	if err != nil {
		return err
	}
	defer closeJournal()
	if w.Phase() == policy.Promoting {
		fmt.Fprintln(o.Out, "resuming the interrupted promotion from the journal")
	}
	start := time.Now()
	res, runErr := w.PromoteByHand(ctx, o.By, o.Reason, o.Graceful)
	if app.NothingRan(runErr) {
		return runErr
	}
	fmt.Fprintf(o.Out, "\n%s in %s: %s\n", strings.ToUpper(string(w.Phase())), time.Since(start).Round(time.Millisecond), res.Detail)
	for _, idx := range res.Promoted {
		fmt.Fprintf(o.Out, "  writable  %s\n", idx)
	}
	for _, idx := range slices.Sorted(maps.Keys(res.Unassigned)) {
		fmt.Fprintf(o.Out, "  NO PRIMARY %s: %s\n", idx, res.Unassigned[idx])
	}
	for _, idx := range slices.Sorted(maps.Keys(res.Failed)) {
		fmt.Fprintf(o.Out, "  FAILED    %s: %s\n", idx, res.Failed[idx])
	}
	return runErr
}
