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
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
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
	// hooks delivers events to the hooks of the config in force; a
	// reload swaps its dispatcher.
	hooks hooks.Hub

	// drills runs the drills, scheduled and on demand.
	drills *drill.Runner

	// leases are the pairs' leases (ha.enabled); haCtx is their loops'
	// context, canceled only after the promotions in flight have ended
	// (they check the lease before each mutating step).
	leases haLeases
	haCtx  context.Context

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

	haCtx, haStop := context.WithCancel(context.WithoutCancel(ctx))
	defer haStop()
	a.haCtx = haCtx
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

	d, err := a.dispatcher(cfg, nil)
	if err != nil {
		return err
	}
	a.hooks.Swap(d)
	a.newDrills(cfg)
	srv, srvErr, err := a.serve(ctx, cfg)
	if err != nil {
		return err
	}
	a.start(ctx, cfg)
	a.startDrills(ctx, cfg)

	runErr := a.loop(ctx, srvErr)

	// Shut down in reverse order of start: watchers, promotions in flight
	// (every step is bounded; a second signal exits at once and the journal
	// resumes them), then the server.
	a.log.Info("shutting down")
	a.drills.Close() // ctx is done: a failover drill halts, and the next start finishes it
	a.stopWatchers()
	a.promotions.Wait()
	a.publishAll()       // what the standby adopts: a promotion's outcome included
	a.releaseLeases(nil) // the standby takes over at once
	for _, rt := range a.pairs {
		rt.CloseRecorder()
	}
	// The last events (a promotion's outcome) are delivered within the
	// shutdown's time, whatever the hooks' timeouts: a stop is bounded (a
	// service manager kills what outlives it), so a hanging pager cannot
	// hold it. What is left then is dropped and counted, and an attempt
	// still running is canceled (an exec hook's process group killed).
	hd := a.hooks.Swap(nil)
	a.log.Info("delivering the last events to hooks", zap.Duration("within", opts.ShutdownTimeout))
	hctx, hcancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer hcancel()
	hd.Close(hctx)
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("http server shutdown", zap.Error(err))
	}
	return runErr
}

// serve opens the listener and serves the API on it, until Shutdown. The
// channel reports the server's failure (closed when it stops).
func (a *App) serve(ctx context.Context, cfg *config.Config) (*http.Server, <-chan error, error) {
	ln := a.opts.Listener
	if ln == nil {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.ListenAddress)
		if err != nil {
			return nil, nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddress, err)
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
	a.log.Info("drwatch started", zap.String("listen", ln.Addr().String()), zap.String("config", a.opts.ConfigPath), zap.Int("pairs", len(cfg.Pairs)))
	if a.opts.Ready != nil {
		a.opts.Ready(ln.Addr().String())
	}
	return srv, srvErr, nil
}

// loop serves reloads until ctx ends or the server fails.
func (a *App) loop(ctx context.Context, srvErr <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-srvErr:
			if ok && err != nil {
				return fmt.Errorf("http server: %w", err)
			}
		case <-a.opts.Reload:
			if err := a.reload(ctx); err != nil {
				a.log.Error("config reload rejected; the previous config keeps running", zap.Error(err))
			}
		case res := <-a.reloadReq:
			res <- a.reload(ctx)
		}
	}
}

// dispatcher builds the hooks of cfg and starts their workers; a hook of
// prev (the running config's) whose config is unchanged is taken over
// with its queue and state.
func (a *App) dispatcher(cfg *config.Config, prev *hooks.Dispatcher) (*hooks.Dispatcher, error) {
	log := a.log.Named("hooks")
	d, err := hooks.FromConfig(cfg.Hooks, hooks.Deps{HTTP: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, Log: log},
		hooks.Options{Log: log, Deliveries: a.metrics.HookDeliveries}, prev)
	if err != nil {
		return nil, err
	}
	for _, h := range cfg.Hooks {
		a.metrics.InitHook(h.Name)
	}
	return d, nil
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
