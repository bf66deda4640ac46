package watch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/ha"
	"github.com/drwatch/drwatch/internal/policy"
)

// Two daemons with live lease loops (real clocks, a short TTL), their
// watchers running, commands through both APIs, the follower cluster
// flapping: no race, no deadlock, the lease changes hands, and the two
// never act at once (sampled back to back: the lease leaves a fifth of a
// TTL between one's window and the other's takeover).
func TestTwoDaemonsUnderLoadRaceFree(t *testing.T) {
	r := newHARig()
	a, _, nodeA := r.daemon(t, "dr-a", staticProber{}, autoPolicy())
	b, _, nodeB := r.daemon(t, "dr-b", staticProber{}, autoPolicy())
	for _, n := range []*ha.Node{nodeA, nodeB} {
		n.Lease.Now = nil
		n.Lease.TTL = 300 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Half-way, the holder's lease loop stops (frozen, as far as the
	// lease goes): the other daemon must take over.
	loopA, stopA := context.WithCancel(ctx)
	loopB, stopB := context.WithCancel(ctx)
	wg.Go(func() { nodeA.Run(loopA, nil) })
	wg.Go(func() { nodeB.Run(loopB, nil) })
	wg.Go(func() {
		time.Sleep(2 * time.Second)
		for ctx.Err() == nil {
			if _, held := nodeA.Lease.Held(); held {
				stopA()
				return
			}
			if _, held := nodeB.Lease.Held(); held {
				stopB()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	for _, w := range []*Watcher{a, b} {
		wg.Go(func() { _ = w.Start(ctx) })
		for range 2 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					act := policy.ActPause
					if i%2 == 1 {
						act = policy.ActResume
					}
					_, _ = w.Command(policy.Command{Action: act, By: "t", For: time.Hour})
					_ = w.Status()
					_, _ = w.acting()
				}
			})
		}
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			time.Sleep(400 * time.Millisecond)
			r.store.SetDown(true)
			time.Sleep(350 * time.Millisecond)
			r.store.SetDown(false)
		}
	})
	var both, samples int
	var maxTerm int64
	wg.Go(func() {
		for ctx.Err() == nil {
			t0 := time.Now()
			ta, actA := a.acting()
			tb, actB := b.acting()
			if time.Since(t0) < 20*time.Millisecond { // the fifth of a TTL is 60ms
				samples++
				if actA && actB {
					both++
				}
			}
			maxTerm = max(maxTerm, ta, tb)
			time.Sleep(time.Millisecond)
		}
	})
	time.Sleep(4 * time.Second)
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("deadlock: goroutines did not stop")
	}
	if both > 0 || samples == 0 {
		t.Fatalf("both daemons acted at once in %d of %d samples", both, samples)
	}
	if maxTerm < 2 {
		t.Fatalf("the lease never changed hands (term %d): the test did not exercise a takeover", maxTerm)
	}
	t.Logf("%d samples, highest term %d", samples, maxTerm)
}
