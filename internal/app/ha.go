package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/acting"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// haPair is a pair's lease, run by its own loop (it outlives watchers:
// a reload does not hand the lease over).
type haPair struct {
	node     *ha.Node
	role     *acting.HA // this daemon's part in the pair: outlives watchers too
	follower string     // the follower endpoint the lease was made with
	stop     context.CancelFunc
	done     chan struct{}
}

// haLeases runs the leases of the pairs of cfg (ha.enabled): a loop per
// pair, started the first time the pair is seen, stopped when it leaves
// the config (its lease released).
type haLeases struct {
	mu    sync.Mutex
	pairs map[string]*haPair
	wg    sync.WaitGroup
}

// endpointKey is what a lease's client is made of (kept in memory only,
// to compare: it holds the password).
func endpointKey(e config.Endpoint) string {
	return fmt.Sprint(e.URL, e.URLs, e.Username, e.Password.Reveal(), string(e.CACert), e.InsecureSkipVerify)
}

func leaseClient(p *config.Pair) (*opensearch.Client, error) {
	client, err := opensearch.New(p.Follower, opensearch.Options{UserAgent: "drwatch/" + buildinfo.Version, Side: "follower"})
	if err != nil {
		return nil, fmt.Errorf("pair %s: ha: follower: %w", p.Name, err)
	}
	return client, nil
}

// haRole returns this daemon's part in pair p (its lease), starting the
// lease's loop the first time. Its client makes one attempt per request
// (no transport retries): a lease round measures the follower cluster as
// it is.
func (a *App) haRole(ctx context.Context, cfg *config.Config, p *config.Pair) (*acting.HA, error) {
	a.leases.mu.Lock()
	defer a.leases.mu.Unlock()
	if a.leases.pairs == nil {
		a.leases.pairs = map[string]*haPair{}
	}
	if hp, ok := a.leases.pairs[p.Name]; ok {
		if key := endpointKey(p.Follower); hp.follower != key {
			// A reload changed the follower's address or credentials: the
			// lease follows, as the executor does.
			client, err := leaseClient(p)
			if err != nil {
				return nil, err
			}
			hp.node.SetStore(client)
			hp.follower = key
			a.log.Info("ha: the pair's lease uses the reloaded follower endpoint", zap.String("pair", p.Name))
		}
		return hp.role, nil
	}
	client, err := leaseClient(p)
	if err != nil {
		return nil, err
	}
	node := ha.NewNode(client, cfg.HA.LeaseIndex, p.Name, cfg.HA.Identity, cfg.HA.TTL.D())
	if node.Instance, err = a.journal.Instance(); err != nil {
		return nil, fmt.Errorf("pair %s: ha: %w", p.Name, err)
	}
	lctx, stop := context.WithCancel(ctx)
	log := a.log.Named("ha").With(zap.String("pair", p.Name))
	// The role logs as the pair's watcher, which it acts for.
	role := acting.NewHA(node, a.journal, a.log.Named("watcher").With(zap.String("pair", p.Name)))
	hp := &haPair{node: node, role: role, follower: endpointKey(p.Follower), stop: stop, done: make(chan struct{})}
	a.leases.pairs[p.Name] = hp
	a.metrics.InitHA(p.Name)
	a.leases.wg.Go(func() {
		defer close(hp.done)
		var was ha.Status
		node.Run(lctx, func(st ha.Status) {
			a.metrics.Lease(p.Name, st.Held, st.Term, st.Err != nil)
			switch {
			case st.Err != nil && (was.Err == nil || was.Err.Error() != st.Err.Error()):
				log.Warn("lease round failed", zap.Error(st.Err), zap.Bool("held", st.Held))
			case st.Err == nil && was.Err != nil:
				log.Info("lease rounds succeed again", zap.Bool("held", st.Held), zap.String("holder", st.Holder))
			}
			if st.Held != was.Held || st.Term != was.Term {
				log.Warn("lease", zap.Bool("held", st.Held), zap.Int64("term", st.Term), zap.String("holder", st.Holder))
			}
			was = st
		})
	})
	return hp.role, nil
}

// releaseLeases stops the lease loops and releases every lease held (a
// clean stop: the standby takes over at once), or only those of pairs
// not in keep (nil: all).
func (a *App) releaseLeases(keep *config.Config) {
	a.leases.mu.Lock()
	var gone []*haPair
	for name, hp := range a.leases.pairs {
		if keep != nil {
			if _, still := keep.Pair(name); still {
				continue
			}
		}
		gone = append(gone, hp)
		delete(a.leases.pairs, name)
		a.metrics.ForgetHA(name)
	}
	a.leases.mu.Unlock()
	for _, hp := range gone {
		hp.stop()
		<-hp.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := hp.node.Lease.Release(ctx); err != nil {
			a.log.Warn("ha: the lease could not be released: the standby takes over when it expires", zap.String("pair", hp.node.Lease.Pair), zap.Error(err))
		} else {
			a.log.Info("ha: lease released", zap.String("pair", hp.node.Lease.Pair))
		}
		cancel()
	}
}

// haChanged says why a reload's ha block is refused: it takes effect at
// a restart only ("" unchanged).
func haChanged(old, next *config.Config) string {
	if old.HA == next.HA {
		return ""
	}
	return "ha changed: it takes effect at a restart only (restart one daemon at a time: the other holds the leases meanwhile)"
}

// publishAll publishes, with ha, the state of every pair this daemon
// holds (at shutdown, after the promotions in flight have ended and before
// the leases are released).
func (a *App) publishAll() {
	a.mu.RLock()
	watchers := a.watchers
	a.mu.RUnlock()
	for _, w := range watchers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := w.PublishNow(ctx); err != nil {
			a.log.Warn("ha: the pair's last state could not be published before the lease is released", zap.String("pair", w.Pair().Name), zap.Error(err))
		}
		cancel()
	}
}
