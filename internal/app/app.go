// Package app is the daemon's lifecycle: it loads the config and the
// journal, runs one watcher per pair (internal/watch), serves the HTTP API
// (internal/api), reloads the config on SIGHUP or POST /-/reload (a bad
// config is rejected and the old one keeps running) and shuts down in
// order. It holds no business rules.
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

	"github.com/drwatch/drwatch/internal/api"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote"
	"github.com/drwatch/drwatch/internal/promote/ccr"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// ErrReloadBusy is a reload refused because a promotion is running.
var ErrReloadBusy = api.ErrReloadBusy

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
	pairs map[string]*watch.Runtime

	// promotions are the running promotions: shutdown waits for them, a
	// reload does not.
	promotions sync.WaitGroup

	mu       sync.RWMutex
	cfg      *config.Config
	watchers []*watch.Watcher
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
	a.pairs = map[string]*watch.Runtime{}
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
		Handler:           api.Handler(a, a.metrics.Reg, a.log),
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
	watchers := make([]*watch.Watcher, 0, len(cfg.Pairs))
	for i := range cfg.Pairs {
		p := &cfg.Pairs[i]
		log := a.log.Named("watcher").With(zap.String("pair", p.Name))
		pr, ex, err := Parts(p, a.journal, log)
		var rt *watch.Runtime
		if err == nil {
			rt, err = a.record(p.Name)
		}
		if err != nil {
			// Config validation and the start-up journal check make this
			// unreachable in practice; log and keep the other pairs.
			a.log.Error("cannot watch pair", zap.String("pair", p.Name), zap.Error(err))
			continue
		}
		a.metrics.InitPair(p.Name)
		watchers = append(watchers, watch.New(watch.Config{
			Pair: p, Prober: pr, Exec: ex, Journal: a.journal, Metrics: a.metrics, Log: log,
			Runtime: rt, Promotions: &a.promotions,
		}))
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

// Parts builds what a pair's watcher is made of: its prober and its
// promotion executor (promote/ccr, or promote.Unsupported for an Aiven
// pair: promotion through the Aiven API is not built).
func Parts(p *config.Pair, j *journal.Journal, log *zap.Logger) (*probe.Prober, promote.Executor, error) {
	pr, err := probe.New(p)
	if err != nil {
		return nil, nil, err
	}
	if p.Aiven != nil {
		return pr, promote.Unsupported{Why: "promotion of an Aiven pair (deleting its CCR integration) is not built yet: promote it in Aiven"}, nil
	}
	ex, err := ccr.New(p, j, log.Named("promote"))
	if err != nil {
		return nil, nil, err
	}
	return pr, ex, nil
}

// record returns a pair's live state, loading its journal record (or
// starting a new one) the first time.
func (a *App) record(pair string) (*watch.Runtime, error) {
	if rt, ok := a.pairs[pair]; ok {
		return rt, nil
	}
	rt, err := watch.Load(a.journal, pair, time.Now())
	if err != nil {
		return nil, err
	}
	st := rt.State()
	a.log.Info("journal loaded", zap.String("pair", pair), zap.String("state", string(st.Phase)), zap.Time("since", st.Since))
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
		if rt.State().Phase == policy.Promoting {
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

// Status is every watched pair's status.
func (a *App) Status() report.Status {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := report.Status{Time: time.Now(), Pairs: make([]report.PairStatus, 0, len(a.watchers))}
	for _, w := range a.watchers {
		st.Pairs = append(st.Pairs, w.Status())
	}
	return st
}

// Ready reports whether every pair has been observed once.
func (a *App) Ready() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cfg == nil {
		return false
	}
	for _, w := range a.watchers {
		if !w.Observed() {
			return false
		}
	}
	return true
}

// Token is the mutating API's bearer token.
func (a *App) Token() config.Secret {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg.API.Token
}

// Watcher is the watcher of the named pair (nil: no such pair).
func (a *App) Watcher(name string) *watch.Watcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, w := range a.watchers {
		if w.Pair().Name == name {
			return w
		}
	}
	return nil
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
