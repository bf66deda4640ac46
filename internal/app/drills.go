package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
)

// startDrills runs the config's drills on their schedules, and finishes
// the restore of a failover drill a stop cut short (its pair stays the
// drill's until then: nothing is decided for it).
func (a *App) startDrills(ctx context.Context, cfg *config.Config) {
	a.drills.Start(ctx)
	a.configureDrills(cfg)
	for _, p := range cfg.Pairs {
		st := a.pairs[p.Name].State()
		if st.Drill == "" {
			continue
		}
		if _, err := a.drills.Trigger(st.Drill.Name(), "drwatch (finishing the restore after a restart)"); err != nil {
			a.log.Error("pair is owned by a failover drill that is no longer configured: finish its restore by hand (drwatch drill show), then resume",
				zap.String("pair", p.Name), zap.Stringer("drill", st.Drill), zap.Error(err))
		}
	}
}

// newDrills makes the drill runner (before the API serves it).
func (a *App) newDrills(cfg *config.Config) {
	a.drills = &drill.Runner{
		Pair: a.drillPair, Store: drill.NewStore(cfg.StateDir), Metrics: a.metrics, Log: a.log.Named("drill"),
	}
}

// configureDrills gives the runner a config's drills and hooks (start and
// reload).
func (a *App) configureDrills(cfg *config.Config) {
	a.drills.SetHooks(cfg.Hooks)
	a.drills.SetHA(cfg.HA)
	a.drills.Schedule(cfg.Drills)
}

// Drills is the drill runner (the API runs drills on demand with it).
func (a *App) Drills() *drill.Runner { return a.drills }

func (a *App) drillPair(name string) (*config.Pair, drill.Pair, bool) {
	w := a.Watcher(name)
	if w == nil {
		return nil, nil, false
	}
	return w.Pair(), w, true
}
