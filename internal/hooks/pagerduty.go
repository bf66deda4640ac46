package hooks

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// PagerDutyURL is the Events API v2 endpoint
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Limits of the Events API v2.
const (
	pdMaxSummary = 1024
	pdMaxSource  = 255
)

// pagerDuty opens, updates and resolves PagerDuty alerts through the
// Events API v2: one alert per incident key (dedup_key), so every trigger
// of an incident updates the alert its first trigger opened, and its
// resolve closes it.
type pagerDuty struct {
	name string
	url  string
	key  string // the integration's routing key: a credential
	http *http.Client
}

func newPagerDuty(h *config.Hook, d Deps) (Hook, error) {
	if !h.Secret.IsSet() {
		return nil, fmt.Errorf("hooks[%s]: a pagerduty hook needs its routing key (routing_key_file or routing_key_env)", h.Name)
	}
	u := h.URL
	if u == "" {
		u = PagerDutyURL
	}
	return &pagerDuty{name: h.Name, url: u, key: h.Secret.Reveal(), http: d.HTTP}, nil
}

func (p *pagerDuty) Name() string    { return p.name }
func (p *pagerDuty) KeepsIncidents() {}

// pdEvent is an Events API v2 event. A resolve carries only routing_key,
// event_action and dedup_key
// (https://developer.pagerduty.com/docs/events-api-v2/resolve-events/).
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
}

type pdPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp,omitempty"`
	Component     string            `json:"component,omitempty"`
	Group         string            `json:"group,omitempty"`
	Class         string            `json:"class,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Deliver sends a trigger or a resolve for the event's incident key. The
// API answers 202; 400 (an invalid event, a bad routing key) is final;
// 429 and 5xx are retried.
func (p *pagerDuty) Deliver(ctx context.Context, ev Event) error {
	_, err := postJSON(ctx, p.http, "PagerDuty", p.url, nil, p.render(&ev))
	return redact(err, p.key)
}

func (p *pagerDuty) render(ev *Event) pdEvent {
	out := pdEvent{RoutingKey: p.key, EventAction: "trigger", DedupKey: incidentKey(ev)}
	if ev.Action == Resolve {
		out.EventAction = "resolve"
		return out
	}
	source := ev.Source
	if source == "" {
		source = "drwatch"
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	class := ev.Event
	if ev.Test {
		class = "test"
	}
	out.Payload = &pdPayload{
		Summary:       truncate(ev.Title(), pdMaxSummary),
		Source:        truncate(source, pdMaxSource),
		Severity:      pdSeverity(ev.Severity),
		Timestamp:     at.UTC().Format(time.RFC3339),
		Component:     ev.Pair,
		Group:         "drwatch",
		Class:         class,
		CustomDetails: ev.Details(),
	}
	out.Client = "drwatch"
	if ev.StatusURL != "" {
		out.ClientURL = ev.StatusURL
		out.Links = []pdLink{{Href: ev.StatusURL, Text: "drwatch status"}}
	}
	return out
}

// pdSeverity maps a severity to one PagerDuty knows (critical, error,
// warning, info).
func pdSeverity(s Severity) string {
	switch s {
	case Critical, Warning:
		return string(s)
	}
	return "info"
}
