package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
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
	ResultVetoed  = "vetoed"  // a veto hook said no to a promotion (not a failure)
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

	mu     sync.RWMutex
	subs   []*sub
	closed bool
	// handed are hooks a later FromConfig took over: d still delivers to
	// them until it is swapped out, and its Close leaves them running.
	handed map[*sub]bool
}

// sub is one hook with its queue and worker. It outlives a Dispatcher
// when a reload keeps the hook (FromConfig's prev): its queue, its order
// and its state (an alertmanager hook's firing alerts) go on.
type sub struct {
	Entry
	cfg       *config.Hook // what it was built from (nil: Start)
	incidents bool
	queue     chan Event
	log       *zap.Logger
	opts      *Options
	// stop ends the retries' waits and the attempt in flight.
	stop   context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the worker has returned
}

// FromConfig builds the hooks of a config and starts their workers. A
// hook of prev (the dispatcher of the config before a reload) whose
// config is unchanged is taken over as it is, queue and state included;
// prev's Close leaves it alone. prev may be nil.
func FromConfig(hooks []config.Hook, deps Deps, opts Options, prev *Dispatcher) (*Dispatcher, error) {
	d := newDispatcher(opts)
	var built, taken []*sub
	for i := range hooks {
		h := &hooks[i]
		if s := prev.take(h); s != nil {
			built, taken = append(built, s), append(taken, s)
			continue
		}
		hk, err := Build(h, deps)
		if err != nil {
			// Nothing changes: prev gets its hooks back, the new ones stop.
			for _, s := range built {
				if slices.Contains(taken, s) {
					prev.give(s)
				} else {
					s.halt()
				}
			}
			return nil, err
		}
		s := d.start(Entry{Hook: hk, Events: h.Events, Timeout: h.Timeout.D(), Veto: h.Veto, Secrets: []string{h.Secret.Reveal()}})
		s.cfg = h
		built = append(built, s)
	}
	d.subs = built
	return d, nil
}

// Start starts a worker per entry. Close stops them.
func Start(entries []Entry, opts Options) *Dispatcher {
	d := newDispatcher(opts)
	for _, e := range entries {
		d.subs = append(d.subs, d.start(e))
	}
	return d
}

func newDispatcher(opts Options) *Dispatcher {
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
	return &Dispatcher{opts: opts}
}

// start starts e's worker.
func (d *Dispatcher) start(e Entry) *sub {
	if e.Timeout <= 0 {
		e.Timeout = config.DefaultHookTimeout
	}
	_, inc := e.Hook.(Incidents)
	s := &sub{Entry: e, incidents: inc, queue: make(chan Event, d.opts.QueueSize),
		log: d.opts.Log.With(zap.String("hook", e.Hook.Name())), opts: &d.opts, done: make(chan struct{})}
	s.stop, s.cancel = context.WithCancel(context.Background())
	go s.work()
	return s
}

// take hands over d's hook built from a config equal to h (nil: none,
// or d is nil or closed). d keeps delivering to it until it is swapped
// out (one queue: the order holds), and its Close leaves it running.
func (d *Dispatcher) take(h *config.Hook) *sub {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	for _, s := range d.subs {
		if s.cfg != nil && !d.handed[s] && reflect.DeepEqual(*s.cfg, *h) {
			if d.handed == nil {
				d.handed = map[*sub]bool{}
			}
			d.handed[s] = true
			return s
		}
	}
	return nil
}

// give takes back a hook a FromConfig that failed took over.
func (d *Dispatcher) give(s *sub) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.handed, s)
}

// Notify queues ev for every hook that gets it and returns at once. A
// test event (ev.Test) goes to every hook. A veto hook does not get
// promotion_started here: it vetted it already (Veto). When a hook's
// queue is full, its oldest queued event is dropped (and counted) to make
// room: the newest state of every incident wins, and a resolve is never
// lost behind the triggers it closes.
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
				if !d.handed[s] {
					s.count(e, ResultDropped)
				}
				continue
			}
			s.enqueue(e)
		}
	}
}

func (s *sub) enqueue(e Event) {
	select {
	case s.queue <- e:
		return
	default:
	}
	select {
	case old := <-s.queue:
		s.count(old, ResultDropped)
		s.log.Error("hook queue full: the oldest queued event is dropped (the receiver is slow or hanging)",
			zap.String("event", old.Event), zap.String("pair", old.Pair), zap.Int("queue", cap(s.queue)))
	default:
	}
	select {
	case s.queue <- e:
	default: // another caller filled the room first
		s.count(e, ResultDropped)
		s.log.Error("hook queue full: event dropped (the receiver is slow or hanging)",
			zap.String("event", e.Event), zap.String("pair", e.Pair), zap.Int("queue", cap(s.queue)))
	}
}

// Veto asks every veto hook subscribed to promotion_started about ev, one
// after another, each bounded by its timeout. The first *VetoError is
// returned; nil means none said no (or there is none).
func (d *Dispatcher) Veto(ctx context.Context, ev Event) error {
	if d == nil {
		return nil
	}
	d.mu.RLock()
	subs := slices.Clone(d.subs)
	d.mu.RUnlock()
	for _, s := range subs {
		v, ok := s.Hook.(Vetoer)
		if !s.Veto || !ok || !slices.Contains(s.Events, ev.Event) {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, s.Timeout)
		start := time.Now()
		err := v.Veto(actx, ev)
		cancel()
		if err == nil {
			s.count(ev, ResultSuccess)
			s.log.Info("veto hook allows the promotion", zap.String("pair", ev.Pair), zap.Duration("took", time.Since(start)))
			continue
		}
		var ve *VetoError
		if !errors.As(err, &ve) { // it could not say yes: fail closed
			ve = &VetoError{Hook: s.Hook.Name(), Reason: err.Error()}
		}
		ve.Reason = scrub(ve.Reason, s.Secrets...)
		s.count(ev, ResultVetoed)
		s.log.Warn("veto hook blocks the promotion", zap.String("pair", ev.Pair), zap.String("reason", ve.Reason), zap.Duration("took", time.Since(start)))
		return ve
	}
	return nil
}

// HasVeto reports whether a veto hook vets event.
func (d *Dispatcher) HasVeto(event string) bool {
	if d == nil {
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.subs {
		if _, ok := s.Hook.(Vetoer); ok && s.Veto && slices.Contains(s.Events, event) {
			return true
		}
	}
	return false
}

// Outcome is one hook's result of Send.
type Outcome struct {
	Hook    string
	Err     error
	Skipped string // why it was not sent (Send's skip)
}

// Send delivers ev now to the named hook (name "": every hook), with the
// retries a queued delivery gets, and returns each hook's outcome
// (drwatch hooks test). A Resolve goes only to incident receivers. skip,
// if set, names hooks not to send to, and why.
func (d *Dispatcher) Send(ctx context.Context, name string, ev Event, skip func(Hook) string) []Outcome {
	d.mu.RLock()
	subs := slices.Clone(d.subs)
	d.mu.RUnlock()
	var out []Outcome
	for _, s := range subs {
		if (name != "" && s.Hook.Name() != name) || (ev.Action == Resolve && !s.incidents) {
			continue
		}
		if skip != nil {
			if why := skip(s.Hook); why != "" {
				out = append(out, Outcome{Hook: s.Hook.Name(), Skipped: why})
				continue
			}
		}
		out = append(out, Outcome{Hook: s.Hook.Name(), Err: s.deliver(ctx, ev)})
	}
	return out
}

// MaxTimeout is the longest timeout of d's hooks: a drain that waits that
// long lets an exec hook that is acting finish one attempt.
func (d *Dispatcher) MaxTimeout() time.Duration {
	if d == nil {
		return 0
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	var m time.Duration
	for _, s := range d.subs {
		m = max(m, s.Timeout)
	}
	return m
}

// Close stops taking events and lets the workers finish their queues
// until ctx ends; what is left then is dropped (and counted), and the
// attempts in flight are canceled (an exec hook's process group killed).
// Then it closes the hooks that are io.Closers (an alertmanager hook
// stops re-sending its alerts). Hooks a later FromConfig took over are
// not d's any more and go on.
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
	var subs []*sub
	for _, s := range d.subs {
		if !d.handed[s] {
			subs = append(subs, s)
			close(s.queue)
		}
	}
	d.mu.Unlock()
	for _, s := range subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			s.cancel()
			<-s.done
		}
		s.cancel()
		if c, ok := s.Hook.(io.Closer); ok {
			if err := c.Close(); err != nil {
				s.log.Warn("closing the hook", zap.Error(err))
			}
		}
	}
}

// halt stops a hook that never got an event (a FromConfig that failed).
func (s *sub) halt() {
	close(s.queue)
	s.cancel()
	<-s.done
	if c, ok := s.Hook.(io.Closer); ok {
		_ = c.Close()
	}
}

func (s *sub) work() {
	defer close(s.done)
	for ev := range s.queue {
		if s.stop.Err() != nil {
			s.count(ev, ResultDropped)
			continue
		}
		_ = s.deliver(s.stop, ev)
	}
}

// deliver makes up to MaxAttempts attempts, waiting between retryable
// failures; it counts and logs the outcome.
func (s *sub) deliver(ctx context.Context, ev Event) error {
	var err error
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, s.Timeout)
		start := time.Now()
		err = s.Hook.Deliver(actx, ev)
		cancel()
		if err == nil {
			s.count(ev, ResultSuccess)
			s.log.Info("hook delivered", zap.String("event", ev.Event), zap.String("pair", ev.Pair),
				zap.String("incident_key", ev.IncidentKey), zap.Int("attempt", n), zap.Duration("took", time.Since(start)))
			return nil
		}
		msg := scrub(err.Error(), s.Secrets...)
		retry, after := Retryable(err)
		if !retry || n >= s.opts.MaxAttempts || ctx.Err() != nil {
			s.count(ev, ResultFailure)
			why := "refused: not retried"
			if retry {
				why = fmt.Sprintf("gave up after %d attempts", n)
			}
			s.log.Error("hook delivery failed: "+why, zap.String("event", ev.Event), zap.String("pair", ev.Pair), zap.String("error", msg))
			return errors.New(msg)
		}
		wait := max(after, s.opts.Backoff(n))
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

func (s *sub) count(ev Event, result string) {
	if s.opts.Deliveries == nil {
		return
	}
	name := ev.Event
	if ev.Test {
		name = "test"
	}
	s.opts.Deliveries.WithLabelValues(s.Hook.Name(), name, result).Inc()
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

// Current is the dispatcher in force (nil: none).
func (h *Hub) Current() *Dispatcher { return h.cur.Load() }
