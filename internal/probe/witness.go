package probe

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// WitnessCap is the longest a witness request stays in flight. A search
// the follower sends to a hung leader stays on the follower as a task
// whatever drwatch's client does (cancelled, it is only marked so), so a
// pending request is never sent again while it is in flight: it is left
// to finish, up to this bound, and its age is the verdict meanwhile.
const WitnessCap = 10 * time.Minute

// witness keeps a pair's one witness request between cycles.
type witness struct {
	mu  sync.Mutex
	cur *witnessCall
}

type witnessCall struct {
	sent time.Time
	// parent is the caller's context (the watcher's): the task check of a
	// pending request is bounded on its own, not by the cycle's deadline.
	parent   context.Context
	follower Cluster
	done     chan struct{}
	// set before done is closed
	ans  opensearch.WitnessAnswer
	err  error
	took time.Duration
}

// begin starts a witness request, unless one is still in flight (or
// answered and not yet reported): then that one is this cycle's too. The
// request's context is parent's (the watcher's), bounded by WitnessCap,
// not the cycle's deadline.
func (w *witness) begin(parent context.Context, f Cluster, alias string, clock func() time.Time) *witnessCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil {
		return w.cur
	}
	c := &witnessCall{sent: clock(), parent: parent, follower: f, done: make(chan struct{})}
	w.cur = c
	go func() {
		ctx, cancel := context.WithTimeout(parent, WitnessCap)
		defer cancel()
		c.ans, c.err = f.CrossCluster(ctx, alias)
		// from the time it was sent, on the clock its pending age is
		// read on: a latency is never shorter than an age reported before
		c.took = clock().Sub(c.sent)
		close(c.done)
	}()
	return c
}

// verdict waits for c until ctx ends (the cycle's deadline) and says what
// it came to. followerAnswered is whether the follower answered drwatch's
// other calls in this cycle: a request pending while it does is the
// follower waiting on its leader; pending while it does not, there is no
// witness. An answered request is reported once, and the next cycle
// sends a new one.
func (w *witness) verdict(ctx context.Context, c *witnessCall, followerAnswered bool, timeout time.Duration, now func() time.Time) observe.Witness {
	// Wait until the request is 3/4 of timeout old (or the cycle ends):
	// one already older is judged at once.
	pendingAfter := timeout * 3 / 4
	wait := time.NewTimer(max(0, pendingAfter-now().Sub(c.sent)))
	select {
	case <-c.done:
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()
	out := observe.Witness{SentAt: c.sent}
	select {
	case <-c.done:
		w.mu.Lock()
		if w.cur == c {
			w.cur = nil
		}
		w.mu.Unlock()
		out.Latency = c.took
		switch {
		case c.err != nil:
			out.Verdict, out.Failure = observe.WitnessNone, failureOf(c.err)
		case c.ans.Link == opensearch.LinkReached:
			out.Verdict = observe.WitnessReached
		case c.ans.Link == opensearch.LinkSkipped:
			out.Verdict = observe.WitnessNone
			out.Failure = &observe.Failure{Class: observe.ClassHTTP4xx, Message: "the follower skipped the leader (its alias has skip_unavailable: true) and does not say why: set skip_unavailable false for the witness to tell"}
		default:
			out.Verdict, out.Type = observe.WitnessUnreached, c.ans.Type
		}
		return out
	default:
	}
	out.Pending = now().Sub(c.sent)
	switch {
	case !followerAnswered:
		out.Verdict = observe.WitnessNone
		out.Failure = &observe.Failure{Class: observe.ClassTimeout, Message: "the follower does not answer"}
	case out.Pending < pendingAfter && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		// Cut short (shutting down): not a verdict on the link.
		out.Verdict = observe.WitnessNone
		out.Failure = &observe.Failure{Class: observe.ClassCanceled, Message: "cycle canceled"}
	default:
		// Pending while the follower answers drwatch: the follower waits
		// on its leader - if the request is a task on the follower. One
		// that is not never got there (stuck between drwatch and the
		// follower: a wedged node, a dropped connection): no witness. The
		// check has its own bound (the cycle's may be spent, by a leader
		// that hangs too).
		tctx, cancel := context.WithTimeout(c.parent, max(timeout/2, 200*time.Millisecond))
		n, err := c.follower.WitnessTasks(tctx)
		cancel()
		switch {
		case err != nil:
			out.Verdict = observe.WitnessNone
			out.Failure = failureOf(err)
			out.Failure.Message = "the witness's request is pending, and whether it is a task on the follower is not known: " + out.Failure.Message
		case n == 0:
			out.Verdict = observe.WitnessNone
			out.Failure = &observe.Failure{Class: observe.ClassTimeout, Message: "the witness's request is pending but is no task on the follower: stuck between drwatch and the follower"}
		default:
			out.Verdict = observe.WitnessUnreached
		}
	}
	return out
}
