package drill

import (
	"context"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// ReadinessInput is what a readiness drill reads. It writes nothing.
type ReadinessInput struct {
	Pair  *config.Pair
	Hooks []config.Hook
	// Leader and Follower are clients without retries (a probe's).
	Leader, Follower *opensearch.Client
	// Observe takes one observation of the pair (probe.Prober.Cycle).
	Observe func(ctx context.Context) observe.Observation
	// StopTimes are measured durations of earlier _stop calls (promotions
	// and failover drills, from the journal); none: the estimate says so.
	StopTimes []time.Duration
	Now       func() time.Time
}

// Readiness runs the readiness checks of a pair, in a fixed order.
func Readiness(ctx context.Context, in ReadinessInput) []Check {
	return []Check{{Name: "readiness", Title: "readiness checks", Result: Fail, Detail: "the readiness checks are not built in this version"}}
}
