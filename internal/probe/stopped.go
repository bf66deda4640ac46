package probe

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// Why an index is not syncing is in the replication plugin's _status
// (FAILED or PAUSED, and the plugin's reason: a role of use_roles that
// lost a permission after _start names it there). The probe asks it of
// the pair's indices not syncing - a few per cycle, each answer kept a
// while; for those the plugin answers from its own metadata, without the
// leader. follower_stats also keeps listing some indices whose task
// failed, which then read as syncing: when follower_stats counts more
// failed or paused indices than the pair has not syncing, the probe asks
// of its syncing indices too - only while the leader answers (_status of
// a running index asks the leader), and after the witness's verdict.

const (
	statusCallsPerCycle = 3
	statusKeep          = time.Minute
)

type statusMemo struct {
	status, reason string
	at             time.Time
}

type stoppedStatus struct {
	mu   sync.Mutex
	seen map[string]statusMemo
}

// StatusReader reads one follower index's replication status.
type StatusReader interface {
	ReplicationStatusOf(ctx context.Context, index string) (opensearch.ReplicationStatus, error)
}

func (p *Prober) explainStopped(ctx context.Context, obs *observe.Observation, now time.Time) {
	r := &obs.Follower.Replication
	sr, ok := p.Follower.(StatusReader)
	if !ok || r.Failure != nil {
		return
	}
	suspectSyncing := obs.Leader.Reachable && r.ClusterFailed+r.ClusterPaused > int64(r.Stopped)
	p.stopped.mu.Lock()
	defer p.stopped.mu.Unlock()
	if p.stopped.seen == nil {
		p.stopped.seen = map[string]statusMemo{}
	}
	// not syncing first, then the largest lag, then by name
	order := make([]int, 0, len(r.Indices))
	for i, ix := range r.Indices {
		if ix.State != observe.StateSyncing || suspectSyncing {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := r.Indices[a], r.Indices[b]
		if (x.State == observe.StateSyncing) != (y.State == observe.StateSyncing) {
			if x.State == observe.StateSyncing {
				return 1
			}
			return -1
		}
		switch {
		case x.Lag > y.Lag:
			return -1
		case x.Lag < y.Lag:
			return 1
		}
		return 0
	})
	calls := 0
	for _, i := range order {
		ix := &r.Indices[i]
		m, ok := p.stopped.seen[ix.Name]
		// an index follower_stats calls syncing is taken for stopped only
		// on an answer of this cycle: a kept one may be of before a resume
		if !ok || now.Sub(m.at) > statusKeep || ix.State == observe.StateSyncing {
			if calls == statusCallsPerCycle || ctx.Err() != nil {
				continue
			}
			calls++
			st, err := sr.ReplicationStatusOf(ctx, ix.Name)
			if err != nil {
				continue
			}
			m = statusMemo{status: st.Status, reason: st.Reason, at: now}
			p.stopped.seen[ix.Name] = m
		}
		if m.status != "FAILED" && m.status != "PAUSED" {
			continue
		}
		ix.Replication, ix.Reason = m.status, m.reason
		if ix.State == observe.StateSyncing {
			ix.State = observe.StateNotSyncing
			r.Syncing--
			r.Stopped++
		}
	}
	for name, m := range p.stopped.seen {
		if now.Sub(m.at) > statusKeep {
			delete(p.stopped.seen, name)
		}
	}
}
