package probe

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The replication plugin's follower_stats keeps listing a follower index
// whose replication task failed (a shard task that ended on an error,
// such as a role of use_roles that lost a permission after _start), so
// that index reads as syncing. When follower_stats counts more failed or
// paused indices than the pair has indices not syncing, the probe asks
// _status of its syncing indices - a few per cycle, each answer kept a
// while - and a FAILED or PAUSED one is not syncing, with the plugin's
// reason. _status of a running index asks the leader, so this is done
// only while the leader answers, after the witness's verdict.

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
	if !ok || r.Failure != nil || !obs.Leader.Reachable || r.ClusterFailed+r.ClusterPaused <= int64(r.Stopped) {
		return
	}
	p.stopped.mu.Lock()
	defer p.stopped.mu.Unlock()
	if p.stopped.seen == nil {
		p.stopped.seen = map[string]statusMemo{}
	}
	// the most suspect first: the largest lag, then by name
	order := make([]int, 0, len(r.Indices))
	for i, ix := range r.Indices {
		if ix.State == observe.StateSyncing {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		la, lb := r.Indices[a].Lag, r.Indices[b].Lag
		switch {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return 0
	})
	calls := 0
	for _, i := range order {
		ix := &r.Indices[i]
		m, ok := p.stopped.seen[ix.Name]
		if !ok || now.Sub(m.at) > statusKeep {
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
		if m.status == "FAILED" || m.status == "PAUSED" {
			ix.State, ix.Replication, ix.Reason = observe.StateNotSyncing, m.status, m.reason
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
