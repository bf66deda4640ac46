// Package app wires drwatch together: it loads the config, runs one watcher
// per pair, serves metrics, health and the status API, and reloads the
// config on SIGHUP or POST /-/reload (a bad config is rejected and the old
// one keeps running). It holds no business rules.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/ccr"
	"github.com/drwatch/drwatch/internal/report"
)

// notBuilt is the promoter of an Aiven pair: promotion through the Aiven
// API is not built, and the replication API is the wrong way to promote
// one. It fails every attempt, writing nothing.
type notBuilt struct{}

func (notBuilt) Run(context.Context, *promote.Promotion) (promote.Result, error) {
	return promote.Result{}, errors.New("promotion of an Aiven pair (deleting its CCR integration) is not built yet: promote it in Aiven")
}

func (notBuilt) FenceOldLeader(context.Context, *promote.Promotion) (string, error) {
	return "", errors.New("fencing the old leader of an Aiven pair is not built yet")
}

// ErrReloadBusy is a reload refused because a promotion is running.
var ErrReloadBusy = errors.New("reload refused")

// Options configure Run.
type Options struct {
	ConfigPath string
	Logger     *zap.Logger // required
	Metrics    *metrics.Metrics
	// Listener overrides listen_address (tests use 127.0.0.1:0).
	Listener net.Listener
	// Reload receives a value for every SIGHUP.
	Reload <-chan struct{}
	// Ready, if set, is called with the server's address once it serves.
	Ready func(addr string)
	// ShutdownTimeout bounds graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
}

// App is a running daemon.
type App struct {
	opts    Options
	log     *zap.Logger
	metrics *metrics.Metrics

	reloadReq chan chan error

	journal *journal.Journal
	// pairs is each pair's live state (journal record, lock), kept across
	// reloads so that a reload loses no progress and races no command.
	pairs map[string]*pairRuntime

	// promotions are the running promotions: shutdown waits for them, a
	// reload does not.
	promotions sync.WaitGroup

	mu       sync.RWMutex
	cfg      *config.Config
	watchers []*watcher
	stop     context.CancelFunc
	done     chan struct{}
}

// Run loads the config and runs until ctx ends. It returns an error when
// the config cannot be loaded or the listener cannot be opened.
func Run(ctx context.Context, opts Options) error {
	if opts.Logger == nil {
		return errors.New("app: Options.Logger is required")
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	a := &App{opts: opts, log: opts.Logger, metrics: opts.Metrics, reloadReq: make(chan chan error, 1)}

	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		a.metrics.ConfigReloadSuccessful.Set(0)
		return fmt.Errorf("load config %s:\n%w", opts.ConfigPath, err)
	}
	a.metrics.ConfigReloadSuccessful.Set(1)
	a.metrics.ConfigReloadTimestamp.SetToCurrentTime()
	warnInsecure(a.log, cfg)

	a.journal, err = journal.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	defer a.journal.Close()
	a.pairs = map[string]*pairRuntime{}
	// Every journal must be readable before anything runs: a corrupt one
	// stops drwatch, it never starts fresh over it.
	for _, p := range cfg.Pairs {
		if _, err := a.record(p.Name); err != nil {
			return err
		}
	}

	ln := opts.Listener
	if ln == nil {
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.ListenAddress)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.ListenAddress, err)
		}
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
	}
	srvErr := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srvErr <- err
		}
		close(srvErr)
	}()
	a.log.Info("drwatch started", zap.String("listen", ln.Addr().String()), zap.String("config", opts.ConfigPath), zap.Int("pairs", len(cfg.Pairs)))
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	a.start(ctx, cfg)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err, ok := <-srvErr:
			if ok && err != nil {
				runErr = fmt.Errorf("http server: %w", err)
				break loop
			}
		case <-opts.Reload:
			if err := a.reload(ctx); err != nil {
				a.log.Error("config reload rejected; the previous config keeps running", zap.Error(err))
			}
		case res := <-a.reloadReq:
			res <- a.reload(ctx)
		}
	}

	// Shut down in reverse order of start: watchers, promotions in flight
	// (every step is bounded; a second signal exits at once and the journal
	// resumes them), then the server.
	a.log.Info("shutting down")
	a.stopWatchers()
	a.promotions.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("http server shutdown", zap.Error(err))
	}
	return runErr
}

// start runs one watcher per pair of cfg.
func (a *App) start(ctx context.Context, cfg *config.Config) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	watchers := make([]*watcher, 0, len(cfg.Pairs))
	for i := range cfg.Pairs {
		p := &cfg.Pairs[i]
		log := a.log.Named("watcher").With(zap.String("pair", p.Name))
		if p.Aiven != nil && p.Resolved.Mode != config.ModeManual && p.Resolved.Mode != config.ModeDryRun {
			// Aiven pairs are promoted by deleting the CCR integration,
			// which this version cannot do: decide, page, never promote.
			pol := *p.Resolved
			pol.Mode = config.ModeManual
			p.Resolved = &pol
		}
		pr, err := NewProber(p)
		var ex promoter
		switch {
		case err != nil:
		case p.Aiven != nil:
			ex = notBuilt{}
		default:
			ex, err = ccr.New(p, a.journal, log.Named("promote"))
		}
		rt, rerr := a.record(p.Name)
		if err == nil {
			err = rerr
		}
		if err != nil {
			// Config validation and the start-up journal check make this
			// unreachable in practice; log and keep the other pairs.
			a.log.Error("cannot watch pair", zap.String("pair", p.Name), zap.Error(err))
			continue
		}
		a.metrics.InitPair(p.Name)
		watchers = append(watchers, &watcher{
			pair: p, prober: pr, exec: ex, journal: a.journal, rt: rt, metrics: a.metrics,
			interval: p.Resolved.ProbeInterval.D(), log: log, now: time.Now, promotions: &a.promotions,
		})
	}
	var wg sync.WaitGroup
	for _, w := range watchers {
		wg.Go(func() { _ = w.Start(wctx) })
	}
	go func() { wg.Wait(); close(done) }()
	a.mu.Lock()
	a.cfg, a.watchers, a.stop, a.done = cfg, watchers, cancel, done
	a.mu.Unlock()
}

// record returns a pair's live state, loading its journal record (or
// starting a new one) the first time.
func (a *App) record(pair string) (*pairRuntime, error) {
	if rt, ok := a.pairs[pair]; ok {
		return rt, nil
	}
	r, err := a.journal.Load(pair)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &journal.Record{Pair: pair, State: policy.Initial(time.Now())}
		if err := a.journal.Save(r); err != nil {
			return nil, err
		}
	} else {
		r.State = policy.Restarted(r.State)
		a.log.Info("journal loaded", zap.String("pair", pair), zap.String("state", string(r.State.Phase)), zap.Time("since", r.State.Since))
	}
	rt := &pairRuntime{rec: r, kick: make(chan struct{}, 1)}
	a.pairs[pair] = rt
	return rt, nil
}

func (a *App) stopWatchers() {
	a.mu.RLock()
	stop, done := a.stop, a.done
	a.mu.RUnlock()
	if stop != nil {
		stop()
		<-done
	}
}

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
		rt.mu.RLock()
		phase := rt.rec.State.Phase
		rt.mu.RUnlock()
		if phase == policy.Promoting {
			a.metrics.ConfigReloadSuccessful.Set(0)
			return fmt.Errorf("%w: pair %s is promoting: reload after the promotion ends (the running config is unchanged)", ErrReloadBusy, name)
		}
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
	a.stopWatchers()
	for _, p := range old.Pairs {
		if _, still := cfg.Pair(p.Name); !still {
			a.metrics.ForgetPair(p.Name)
		}
	}
	a.start(ctx, cfg)
	a.metrics.ConfigReloadSuccessful.Set(1)
	a.metrics.ConfigReloadTimestamp.SetToCurrentTime()
	a.log.Info("config reloaded", zap.Int("pairs", len(cfg.Pairs)))
	return nil
}

// requestReload asks the run loop to reload and waits for the outcome.
func (a *App) requestReload(ctx context.Context) error {
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

func (a *App) status() report.Status {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := report.Status{Time: time.Now(), Pairs: make([]report.PairStatus, 0, len(a.watchers))}
	for _, w := range a.watchers {
		st.Pairs = append(st.Pairs, w.status())
	}
	return st
}

func (a *App) ready() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return false
	}
	for _, w := range a.watchers {
		if !w.observed() {
			return false
		}
	}
	return true
}

func warnInsecure(log *zap.Logger, cfg *config.Config) {
	for _, w := range cfg.NotYetActive() {
		log.Warn("config part not active in this version", zap.String("detail", w))
	}
	for _, p := range cfg.Pairs {
		for role, ep := range map[string]config.Endpoint{"leader": p.Leader, "follower": p.Follower} {
			if ep.InsecureSkipVerify {
				log.Warn("TLS verification is OFF for this endpoint (insecure_skip_verify)", zap.String("pair", p.Name), zap.String("role", role))
			}
		}
	}
}
