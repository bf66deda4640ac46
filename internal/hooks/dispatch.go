package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
)

// Delivery results (the result label of drwatch_hook_deliveries_total).
const (
	ResultSuccess = "success"
	ResultFailure = "failure" // refused, or every attempt failed
	ResultDropped = "dropped" // the hook's queue was full, or drwatch stopped first
)

// Defaults of Options.
const (
	DefaultQueueSize   = 256
	DefaultMaxAttempts = 5
	// MaxRetryWait bounds one wait between attempts, Retry-After included.
	MaxRetryWait = time.Minute
)

// Options tune a Dispatcher; the zero value is the daemon's.
type Options struct {
	Log *zap.Logger
	// Deliveries counts deliveries by hook, event and result (nil: none).
	Deliveries *prometheus.CounterVec
	// QueueSize is each hook's queue; a full queue drops (and counts) the
	// newest event rather than block the caller.
	QueueSize int
	// MaxAttempts bounds the attempts of one delivery.
	MaxAttempts int
	// Backoff is the wait after the n-th failed attempt (n from 1):
	// default 1s, 2s, 4s, 8s... at most MaxRetryWait.
	Backoff func(n int) time.Duration
}

// Entry is one hook and how it is to be used.
type Entry struct {
	Hook    Hook
	Events  []string      // the events it subscribed to
	Timeout time.Duration // each attempt's deadline
	Veto    bool          // a Vetoer asked to vet promotion_started
	// Secrets are scrubbed from every error before it is logged.
	Secrets []string
}

// Dispatcher delivers events to hooks: each hook has a bounded queue and
// one worker, so no receiver delays another, and Notify never blocks.
type Dispatcher struct {
	opts Options
	subs []*sub
	wg   sync.WaitGroup
	// stop ends retries' waits and the attempts in flight (Close).
	stop   context.Context
	cancel context.CancelFunc

	mu     sync.RWMutex
	closed bool
}

type sub struct {
	Entry
	incidents bool
	queue     chan Event
	log       *zap.Logger
}

// FromConfig builds the hooks of a config and starts their workers.
func FromConfig(hooks []config.Hook, deps Deps, opts Options) (*Dispatcher, error) {
	entries := make([]Entry, 0, len(hooks))
	for i := range hooks {
		h := &hooks[i]
		hk, err := Build(h, deps)
		if err != nil {
			return nil, err
		}
		entries = append(entries, Entry{Hook: hk, Events: h.Events, Timeout: h.Timeout.D(), Veto: h.Veto, Secrets: []string{h.Secret.Reveal()}})
	}
	return Start(entries, opts), nil
}

// Start starts a worker per entry. Close stops them.
func Start(entries []Entry, opts Options) *Dispatcher {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration {
			return min(time.Second<<min(n-1, 10), MaxRetryWait)
		}
	}
	d := &Dispatcher{opts: opts}
	d.stop, d.cancel = context.WithCancel(context.Background())
	for _, e := range entries {
		if e.Timeout <= 0 {
			e.Timeout = config.DefaultHookTimeout
		}
		_, inc := e.Hook.(Incidents)
		s := &sub{Entry: e, incidents: inc, queue: make(chan Event, opts.QueueSize),
			log: opts.Log.With(zap.String("hook", e.Hook.Name()))}
		d.subs = append(d.subs, s)
		d.wg.Add(1)
		go d.work(s)
	}
	return d
}

// Notify queues ev for every hook that gets it and returns at once. A
// test event (ev.Test) goes to every hook. A veto hook does not get
// promotion_started here: it vetted it already (Veto).
func (d *Dispatcher) Notify(ev Event) {
	if d == nil {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.subs {
		var evs []Event
		switch {
		case ev.Test:
			evs = []Event{ev}
		case s.Veto && ev.Event == "promotion_started":
		default:
			evs = deliveries(s.Events, s.incidents, ev)
		}
		for _, e := range evs {
			if d.closed {
				d.count(s, e, ResultDropped)
				continue
			}
			select {
			case s.queue <- e:
			default:
				d.count(s, e, ResultDropped)
				s.log.Error("hook queue full: event dropped (the receiver is slow or hanging)",
					zap.String("event", e.Event), zap.String("pair", e.Pair), zap.Int("queue", cap(s.queue)))
			}
		}
	}
}

// Veto asks every veto hook subscribed to promotion_started about ev, one
// after another, each bounded by its timeout. The first *VetoError is
// returned; nil means none said no (or there is none).
func (d *Dispatcher) Veto(ctx context.Context, ev Event) error {
	if d == nil {
		return nil
	}
	for _, s := range d.subs {
		v, ok := s.Hook.(Vetoer)
		if !s.Veto || !ok || !slices.Contains(s.Events, ev.Event) {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, s.Timeout)
		start := time.Now()
		err := v.Veto(actx, ev)
		cancel()
		if err == nil {
			d.count(s, ev, ResultSuccess)
			s.log.Info("veto hook allows the promotion", zap.String("pair", ev.Pair), zap.Duration("took", time.Since(start)))
			continue
		}
		var ve *VetoError
		if !errors.As(err, &ve) { // it could not say yes: fail closed
			ve = &VetoError{Hook: s.Hook.Name(), Reason: err.Error()}
		}
		ve.Reason = scrub(ve.Reason, s.Secrets...)
		d.count(s, ev, ResultFailure)
		s.log.Warn("veto hook blocks the promotion", zap.String("pair", ev.Pair), zap.String("reason", ve.Reason), zap.Duration("took", time.Since(start)))
		return ve
	}
	return nil
}

// HasVeto reports whether a veto hook vets event for pair.
func (d *Dispatcher) HasVeto(event string) bool {
	if d == nil {
		return false
	}
	for _, s := range d.subs {
		if _, ok := s.Hook.(Vetoer); ok && s.Veto && slices.Contains(s.Events, event) {
			return true
		}
	}
	return false
}

// Outcome is one hook's result of Send.
type Outcome struct {
	Hook string
	Err  error
}

// Send delivers ev now to the named hook (name "": every hook), with the
// retries a queued delivery gets, and returns each hook's outcome
// (drwatch hooks test). A Resolve goes only to incident receivers.
func (d *Dispatcher) Send(ctx context.Context, name string, ev Event) []Outcome {
	var out []Outcome
	for _, s := range d.subs {
		if (name != "" && s.Hook.Name() != name) || (ev.Action == Resolve && !s.incidents) {
			continue
		}
		out = append(out, Outcome{Hook: s.Hook.Name(), Err: d.deliver(ctx, s, ev)})
	}
	return out
}

// Close stops taking events and lets the workers finish their queues
// until ctx ends; what is left then is dropped (and counted). Then it
// closes the hooks that are io.Closers (an alertmanager hook stops
// re-sending its alerts).
func (d *Dispatcher) Close(ctx context.Context) {
	if d == nil {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	for _, s := range d.subs {
		close(s.queue)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
	d.cancel()
	for _, s := range d.subs {
		if c, ok := s.Hook.(io.Closer); ok {
			if err := c.Close(); err != nil {
				s.log.Warn("closing the hook", zap.Error(err))
			}
		}
	}
}

func (d *Dispatcher) work(s *sub) {
	defer d.wg.Done()
	for ev := range s.queue {
		if d.stop.Err() != nil {
			d.count(s, ev, ResultDropped)
			continue
		}
		_ = d.deliver(d.stop, s, ev)
	}
}

// deliver makes up to MaxAttempts attempts, waiting between retryable
// failures; it counts and logs the outcome.
func (d *Dispatcher) deliver(ctx context.Context, s *sub, ev Event) error {
	var err error
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, s.Timeout)
		start := time.Now()
		err = s.Hook.Deliver(actx, ev)
		cancel()
		if err == nil {
			d.count(s, ev, ResultSuccess)
			s.log.Info("hook delivered", zap.String("event", ev.Event), zap.String("pair", ev.Pair),
				zap.String("incident_key", ev.IncidentKey), zap.Int("attempt", n), zap.Duration("took", time.Since(start)))
			return nil
		}
		msg := scrub(err.Error(), s.Secrets...)
		retry, after := Retryable(err)
		if !retry || n >= d.opts.MaxAttempts || ctx.Err() != nil {
			d.count(s, ev, ResultFailure)
			why := "refused: not retried"
			if retry {
				why = fmt.Sprintf("gave up after %d attempts", n)
			}
			s.log.Error("hook delivery failed: "+why, zap.String("event", ev.Event), zap.String("pair", ev.Pair), zap.String("error", msg))
			return errors.New(msg)
		}
		wait := max(after, d.opts.Backoff(n))
		wait = min(wait, MaxRetryWait)
		s.log.Warn("hook delivery failed: retrying", zap.String("event", ev.Event), zap.String("pair", ev.Pair),
			zap.Int("attempt", n), zap.Duration("retry_in", wait), zap.String("error", msg))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func (d *Dispatcher) count(s *sub, ev Event, result string) {
	if d.opts.Deliveries == nil {
		return
	}
	name := ev.Event
	if ev.Test {
		name = "test"
	}
	d.opts.Deliveries.WithLabelValues(s.Hook.Name(), name, result).Inc()
}

// Hub is the daemon's current Dispatcher, swapped on reload: watchers
// and a promotion in flight keep a Hub, so their events reach the hooks
// of the config in force when they happen.
type Hub struct {
	cur atomic.Pointer[Dispatcher]
}

// Swap makes d current and returns the one it replaces (to Close).
func (h *Hub) Swap(d *Dispatcher) *Dispatcher { return h.cur.Swap(d) }

// Notify queues ev for the current hooks (none: nothing happens).
func (h *Hub) Notify(ev Event) {
	if h != nil {
		h.cur.Load().Notify(ev)
	}
}

// Veto asks the current veto hooks (Dispatcher.Veto).
func (h *Hub) Veto(ctx context.Context, ev Event) error {
	if h == nil {
		return nil
	}
	return h.cur.Load().Veto(ctx, ev)
}

// HasVeto reports whether a current veto hook vets event.
func (h *Hub) HasVeto(event string) bool {
	return h != nil && h.cur.Load().HasVeto(event)
}
