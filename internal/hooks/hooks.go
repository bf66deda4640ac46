package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
)

// Hook delivers events to one receiver (the package comment is its
// contract).
type Hook interface {
	// Name is the hook's name in the config.
	Name() string
	// Deliver sends one event; nil means the receiver took it.
	Deliver(ctx context.Context, ev Event) error
}

// Vetoer is a hook that can stop a promotion (an exec hook with veto:
// true): Veto runs it for promotion_started before the promotion changes
// anything, and returns a *VetoError when it says no - or when it could
// not say yes (it did not start, or timed out): a veto fails closed.
type Vetoer interface {
	Hook
	Veto(ctx context.Context, ev Event) error
}

// VetoError is a veto: the hook that gave it, and its reason (the last
// line it wrote, or what went wrong).
type VetoError struct {
	Hook   string
	Reason string
}

func (e *VetoError) Error() string {
	return fmt.Sprintf("vetoed by hook %s: %s", e.Hook, e.Reason)
}

// Incidents marks a receiver that keeps incidents by key (PagerDuty,
// Opsgenie, Alertmanager): it gets the resolving events of the incidents
// its subscribed events open, and one delivery per key a Resolve closes.
type Incidents interface {
	KeepsIncidents()
}

// DeliveryError is a failed delivery: whether trying again can help, and
// how long the receiver asked to wait (Retry-After).
type DeliveryError struct {
	Err        error
	Retryable  bool
	RetryAfter time.Duration
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// Permanent is a failure no retry can fix (a 4xx, a bad command).
func Permanent(err error) error { return &DeliveryError{Err: err} }

// Temporary is a failure a retry can fix (a 5xx, a 429, a timeout), after
// at least after (0: the dispatcher's backoff).
func Temporary(err error, after time.Duration) error {
	return &DeliveryError{Err: err, Retryable: true, RetryAfter: after}
}

// Retryable reports whether err is worth another try, and how long the
// receiver asked to wait. An error that is not a *DeliveryError is
// retryable when it is a timeout (the attempt's deadline passed).
func Retryable(err error) (bool, time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Retryable, de.RetryAfter
	}
	return errors.Is(err, context.DeadlineExceeded), 0
}

// Deps is what an integration is built with.
type Deps struct {
	// HTTP is the client for HTTP receivers: TLS verified, no timeout of
	// its own (each attempt's context carries the hook's timeout).
	HTTP *http.Client
	Log  *zap.Logger
	Now  func() time.Time
	// Resend is how often an alertmanager hook re-sends its firing
	// alerts (0: DefaultResendInterval).
	Resend time.Duration
}

// Build makes the hook a config entry describes.
func Build(h *config.Hook, d Deps) (Hook, error) {
	if d.HTTP == nil {
		d.HTTP = &http.Client{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	d.Log = d.Log.With(zap.String("hook", h.Name), zap.String("type", h.Type))
	switch h.Type {
	case "exec":
		return newExec(h, d)
	case "pagerduty":
		return newPagerDuty(h, d)
	case "opsgenie":
		return newOpsgenie(h, d)
	case "slack":
		return newSlack(h, d)
	case "alertmanager":
		return newAlertmanager(h, d)
	case "webhook":
		return newWebhook(h, d)
	}
	return nil, fmt.Errorf("hook %s: unknown type %q", h.Name, h.Type)
}

// deliveries is what a hook with these subscribed events gets of ev:
// nothing, ev itself, or - for an incident receiver and a Resolve - one
// copy per incident it closes that the hook's events open (or that it
// subscribed to the resolving event for).
func deliveries(events []string, incidents bool, ev Event) []Event {
	subscribed := slices.Contains(events, ev.Event)
	if !incidents || ev.Action != Resolve || ev.Test {
		if subscribed {
			return []Event{ev}
		}
		return nil
	}
	var out []Event
	for i, k := range append([]string{ev.IncidentKey}, ev.AlsoResolves...) {
		if (i == 0 && subscribed) || opens(events, ev.Pair, k) {
			c := ev
			c.IncidentKey, c.AlsoResolves = k, nil
			out = append(out, c)
		}
	}
	return out
}

// opens reports whether one of events opens the pair's incident key.
func opens(events []string, pair, key string) bool {
	for _, sub := range events {
		if c, ok := classes[sub]; ok && c.action == Trigger && Key(pair, c.kinds[0]) == key {
			return true
		}
	}
	return false
}
