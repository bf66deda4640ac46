package hooks

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
)

// DefaultResendInterval is how often an alertmanager hook re-sends its
// firing alerts. Each is sent with endsAt resendFactor intervals ahead:
// Alertmanager resolves an alert by itself once its endsAt passes, so an
// alert drwatch stops re-sending (drwatch stopped, or lost the resolve)
// does not fire for ever.
const DefaultResendInterval = time.Minute

const resendFactor = 3

// amAlertNames is the alertname of each incident kind.
var amAlertNames = map[string]string{
	KindOutage:      "DrwatchLeaderOutage",
	KindReplication: "DrwatchReplicationDegraded",
	KindLeader:      "DrwatchLeaderDegraded",
	KindLease:       "DrwatchRetentionLeaseExpiring",
	KindOldLeader:   "DrwatchOldLeaderReturned",
	KindJournal:     "DrwatchJournalUnwritable",
	KindDrill:       "DrwatchDrillFailed",
	KindTest:        "DrwatchHookTest",
}

// amAlertName is the alertname of an incident kind; DrwatchIncident for
// a kind without its own.
func amAlertName(kind string) string {
	if n, ok := amAlertNames[kind]; ok {
		return n
	}
	return "DrwatchIncident"
}

// alertmanager posts alerts to Alertmanager's API v2 (postableAlerts in
// https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml).
// Alertmanager knows an alert by its labels, so an incident is one label
// set: alertname (by kind), pair, severity, incident_key and source. A
// trigger fires it, a resolve posts the same labels with endsAt now.
//
// An open incident's severity label only rises: a warning incident
// turned critical resolves the warning alert and fires a critical one
// (so routes on severity page for it); a later warning updates the
// critical alert's annotations.
//
// Firing alerts are kept in memory and re-sent every resend interval by
// a goroutine of the hook's own, until they are resolved or the hook is
// closed.
type alertmanager struct {
	name    string
	url     string
	headers map[string]string
	http    *http.Client
	log     *zap.Logger
	now     func() time.Time
	resend  time.Duration
	timeout time.Duration // of a re-send

	// send orders posts: a re-send never lands after the resolve of one
	// of its alerts.
	send sync.Mutex

	mu      sync.Mutex
	firing  map[string]*amAlert // by incident key
	running bool                // the re-send goroutine was started
	closed  bool
	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	done    chan struct{} // closed when the re-send goroutine ends
}

// amAlert is a postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func newAlertmanager(h *config.Hook, d Deps) (Hook, error) {
	if h.URL == "" {
		return nil, fmt.Errorf("hooks[%s]: an alertmanager hook needs its url", h.Name)
	}
	timeout := h.Timeout.D()
	if timeout <= 0 {
		timeout = config.DefaultHookTimeout
	}
	resend := d.Resend
	if resend <= 0 {
		resend = DefaultResendInterval
	}
	a := &alertmanager{
		name: h.Name, url: strings.TrimRight(h.URL, "/") + "/api/v2/alerts", headers: h.Headers,
		http: d.HTTP, log: d.Log, now: d.Now, resend: resend, timeout: timeout,
		firing: map[string]*amAlert{}, done: make(chan struct{}),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

func (a *alertmanager) Name() string    { return a.name }
func (a *alertmanager) KeepsIncidents() {}

// Deliver fires or resolves the event's incident. Alertmanager answers
// 200; 400 (an invalid alert) is final; 5xx is retried.
func (a *alertmanager) Deliver(ctx context.Context, ev Event) error {
	key := incidentKey(&ev)
	a.send.Lock()
	defer a.send.Unlock()
	now := a.now().UTC()
	a.mu.Lock()
	var old *amAlert
	if f := a.firing[key]; f != nil {
		c := *f
		old = &c
	}
	if ev.Action == Resolve {
		// Forgotten first: were every attempt to fail, the alert would
		// still end at its endsAt, not be re-sent for ever.
		delete(a.firing, key)
	}
	a.mu.Unlock()

	annotations := ev.Details()
	annotations["summary"] = ev.Title()
	annotations["description"] = ev.Text()

	if ev.Action == Resolve {
		var batch []amAlert
		if old != nil {
			old.Annotations, old.EndsAt = annotations, now
			old.StartsAt = minTime(old.StartsAt, now)
			batch = append(batch, *old)
		} else {
			// Not fired by this hook (drwatch restarted since): resolve
			// the incident under each severity its triggers give it.
			for _, sev := range triggerSeverities(kindOf(key), ev.Severity) {
				batch = append(batch, amAlert{Labels: amLabels(&ev, key, sev), Annotations: annotations, EndsAt: now, GeneratorURL: ev.StatusURL})
			}
		}
		return a.post(ctx, batch)
	}

	started := ev.At.UTC()
	if started.IsZero() {
		started = now
	}
	sev := ev.Severity
	var batch []amAlert
	if old != nil {
		started = old.StartsAt
		if prev := Severity(old.Labels["severity"]); rank(prev) >= rank(sev) {
			sev = prev
		} else { // escalated: the lower alert ends, the higher one fires
			old.EndsAt = now
			batch = append(batch, *old)
		}
	}
	cur := amAlert{
		Labels:       amLabels(&ev, key, sev),
		Annotations:  annotations,
		StartsAt:     minTime(started, now),
		EndsAt:       now.Add(resendFactor * a.resend),
		GeneratorURL: ev.StatusURL,
	}
	batch = append(batch, cur)
	if err := a.post(ctx, batch); err != nil {
		return err
	}
	if ev.Test {
		return nil // not re-sent: it ends by itself
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.firing[key] = &cur
	if !a.running && !a.closed {
		a.running = true
		go a.loop()
	}
	return nil
}

// Close stops re-sending (the alerts end at their endsAt) and waits for
// the re-send goroutine.
func (a *alertmanager) Close() error {
	a.mu.Lock()
	a.closed = true
	running := a.running
	a.mu.Unlock()
	a.cancel()
	if running {
		<-a.done
	}
	return nil
}

func (a *alertmanager) loop() {
	defer close(a.done)
	t := time.NewTicker(a.resend)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
			a.resendFiring()
		}
	}
}

// resendFiring re-posts every firing alert with its endsAt moved ahead.
// A failure is logged and left to the next interval.
func (a *alertmanager) resendFiring() {
	a.send.Lock()
	defer a.send.Unlock()
	a.mu.Lock()
	ends := a.now().UTC().Add(resendFactor * a.resend)
	batch := make([]amAlert, 0, len(a.firing))
	for _, f := range a.firing {
		f.EndsAt = ends
		batch = append(batch, *f)
	}
	a.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	slices.SortFunc(batch, func(x, y amAlert) int { return cmp.Compare(x.Labels["incident_key"], y.Labels["incident_key"]) })
	ctx, cancel := context.WithTimeout(a.ctx, a.timeout)
	defer cancel()
	if err := a.post(ctx, batch); err != nil && a.ctx.Err() == nil {
		a.log.Warn("alertmanager: re-sending the firing alerts failed; next try in one interval",
			zap.Int("alerts", len(batch)), zap.Duration("interval", a.resend), zap.Error(err))
	}
}

func (a *alertmanager) post(ctx context.Context, batch []amAlert) error {
	_, err := postJSON(ctx, a.http, "Alertmanager", a.url, a.headers, batch)
	return redact(err, credentials(a.headers)...)
}

// amLabels is the label set of an incident: the same for its trigger and
// its resolve (Alertmanager identifies an alert by its labels).
func amLabels(ev *Event, key string, sev Severity) map[string]string {
	if rank(sev) == 0 {
		sev = Notice
	}
	l := map[string]string{
		"alertname":    amAlertName(kindOf(key)),
		"severity":     string(sev),
		"incident_key": key,
		"source":       "drwatch",
	}
	if ev.Pair != "" {
		l["pair"] = ev.Pair
	}
	return l
}

// triggerSeverities are the severities the triggers of an incident kind
// carry (classes); fallback when none does (a test).
func triggerSeverities(kind string, fallback Severity) []Severity {
	var out []Severity
	for _, c := range classes {
		if c.action == Trigger && c.kinds[0] == kind && !slices.Contains(out, c.severity) {
			out = append(out, c.severity)
		}
	}
	if len(out) == 0 {
		out = append(out, fallback)
	}
	slices.SortFunc(out, func(x, y Severity) int { return rank(y) - rank(x) })
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
