package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// reload loads the config file again. On failure the running config and
// watchers are left untouched.
func (a *App) reload(ctx context.Context) error {
	cfg, err := config.Load(a.opts.ConfigPath)
	if err != nil {
		a.metrics.ConfigReloadSuccessful.Set(0)
		return err
	}
	a.mu.RLock()
	old := a.cfg
	a.mu.RUnlock()
	// A promotion in flight is not interrupted: it runs on its own
	// goroutine and a reload does not wait for it (a promotion that starts
	// right after this check goes on under the next watcher). Still,
	// refuse while one is known to run: its executor has the old config.
	for name, rt := range a.pairs {
		if rt.State().Phase == policy.Promoting {
			a.metrics.ConfigReloadSuccessful.Set(0)
			return fmt.Errorf("%w: pair %s is promoting: reload after the promotion ends (the running config is unchanged)", ErrReloadBusy, name)
		}
	}
	if why := haChanged(old, cfg); why != "" {
		a.metrics.ConfigReloadSuccessful.Set(0)
		return fmt.Errorf("%s; the running config is unchanged", why)
	}
	if cfg.StateDir != old.StateDir {
		a.log.Warn("state_dir changed; it takes effect at the next restart", zap.String("running", old.StateDir), zap.String("new", cfg.StateDir))
	}
	if cfg.ListenAddress != old.ListenAddress {
		a.log.Warn("listen_address changed; it takes effect at the next restart", zap.String("running", old.ListenAddress), zap.String("new", cfg.ListenAddress))
	}
	warnInsecure(a.log, cfg)
	for _, p := range cfg.Pairs {
		if _, err := a.record(p.Name); err != nil {
			a.metrics.ConfigReloadSuccessful.Set(0)
			return err
		}
	}
	d, err := a.dispatcher(cfg, a.hooks.Current())
	if err != nil {
		a.metrics.ConfigReloadSuccessful.Set(0)
		return err
	}
	a.stopWatchers()
	// Events from here on go to the new hooks (an unchanged hook is the
	// same, queue and state included); the old ones finish what they have
	// queued, with their retries, in the background.
	prev := a.hooks.Swap(d)
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+prev.MaxTimeout())
		defer cancel()
		prev.Close(cctx)
	}()
	for _, p := range old.Pairs {
		if _, still := cfg.Pair(p.Name); !still {
			a.metrics.ForgetPair(p.Name)
		}
	}
	a.releaseLeases(cfg) // the pairs that left the config
	a.start(ctx, cfg)
	a.configureDrills(cfg)
	a.metrics.ConfigReloadSuccessful.Set(1)
	a.metrics.ConfigReloadTimestamp.SetToCurrentTime()
	a.log.Info("config reloaded", zap.Int("pairs", len(cfg.Pairs)))
	return nil
}

// Reload asks the run loop to reload the config file and waits for the
// outcome.
func (a *App) Reload(ctx context.Context) error {
	res := make(chan error, 1)
	select {
	case a.reloadReq <- res:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
