// Package hooks delivers drwatch's events (docs/events.md) to the people
// and programs that act on them: PagerDuty, Opsgenie, Slack, Alertmanager,
// a signed webhook, or a command. One file per integration, each a Hook;
// the Dispatcher gives every hook a bounded queue and a worker of its own,
// so a slow or hanging receiver never delays probing or promotion, and
// retries what can succeed later (5xx, 429, timeouts) with backoff.
//
// The contract every integration keeps (docs/hooks.md):
//   - Deliver sends one Event and returns nil only when the receiver took
//     it. An error says whether a retry can help (Retryable); anything not
//     marked retryable is never sent again.
//   - Deliver honours ctx: the dispatcher bounds each attempt by the
//     hook's timeout.
//   - No credential (routing key, API key, a Slack URL, an HMAC secret)
//     ever appears in an error, a log line or a metric label: errors from
//     net/http name the URL, so integrations send through postJSON (which
//     strips it) and redact what a receiver quotes back.
//   - An incident-keeping receiver (PagerDuty, Opsgenie, Alertmanager)
//     opens or updates the incident Event.IncidentKey names on a Trigger
//     and closes it on a Resolve. The dispatcher sends it the resolving
//     events of the incidents its events open even when its `events` list
//     leaves them out, so a page it opened is closed when the condition
//     clears.
package hooks

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Action is what an event does to the pair's incident of its kind.
type Action string

// Actions.
const (
	// Trigger opens the incident, or updates the open one.
	Trigger Action = "trigger"
	// Resolve closes it: the condition cleared.
	Resolve Action = "resolve"
)

// Severity of an event, in the words PagerDuty and Alertmanager use.
type Severity string

// Severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Notice   Severity = "info"
)

// Incident kinds: one incident key per pair and kind. A receiver opens a
// new incident when a trigger comes for a key whose last incident was
// resolved (PagerDuty's dedup_key, Opsgenie's alias and Alertmanager's
// labels all work so), so the key is stable across restarts: the page a
// daemon opened before it restarted is resolved by the daemon after it.
const (
	KindOutage      = "outage"      // the leader: suspect, down, approval, promotion
	KindReplication = "replication" // replication degraded with the leader up
	KindLeader      = "leader"      // the leader answers but refuses writes
	KindLease       = "retention"   // the follower's retention lease on the leader runs down
	KindOldLeader   = "old-leader"  // the old leader answers after a promotion
	KindJournal     = "journal"     // the journal cannot be written
	KindDrill       = "drill"       // a drill found a problem
	KindTest        = "test"        // drwatch hooks test
)

// Event is what every hook receives: the JSON a webhook and an exec hook
// get, and what the other integrations render. Field names are contract
// (docs/hooks.md): extended, never renamed.
type Event struct {
	// ID is unique per event; a retried delivery sends the same ID.
	ID string `json:"id"`
	// Event is the event's name (docs/events.md), e.g. "leader_down".
	Event string `json:"event"`
	Pair  string `json:"pair"`
	// State is the pair's state after the event, From the one before.
	State string    `json:"state"`
	From  string    `json:"from,omitempty"`
	Mode  string    `json:"mode,omitempty"`
	At    time.Time `json:"at"`
	// Summary is one line: what happened, for a page's title.
	Summary string `json:"summary"`
	// Reasons say why, in drwatch's words (the journal's).
	Reasons []string `json:"reasons"`
	// Next says what drwatch will do next, and what a human can do.
	Next string `json:"next"`

	Action      Action   `json:"action"`
	Severity    Severity `json:"severity"`
	IncidentKey string   `json:"incident_key"`
	// AlsoResolves are further incidents a Resolve closes (a promotion
	// that succeeded closes the outage and the replication incidents).
	AlsoResolves []string `json:"also_resolves,omitempty"`

	// Lag is the last lag reading and the RPO guard's estimate.
	Lag *Lag `json:"lag,omitempty"`
	// Approval is the pending request (approval_required) or the one
	// answered (approval_granted, approval_denied, approval_expired).
	Approval *Approval `json:"approval,omitempty"`
	// Promotion is the promotion under way or finished.
	Promotion *Promotion `json:"promotion,omitempty"`
	// By is the human (or "drwatch (auto mode)") behind the event.
	By string `json:"by,omitempty"`
	// StatusURL is the daemon's status page.
	StatusURL string `json:"status_url,omitempty"`
	// Source is the host drwatch runs on.
	Source string `json:"source"`
	// Test marks `drwatch hooks test`'s event: nothing happened.
	Test bool `json:"test,omitempty"`
}

// Lag is the lag and RPO estimate an event carries.
type Lag struct {
	// Operations is the summed lag of the last reading drwatch trusts,
	// nil when none is known.
	Operations *int64 `json:"operations,omitempty"`
	// MeasuredAt is when that reading was taken.
	MeasuredAt time.Time `json:"measured_at,omitzero"`
	// RPOGuardPasses says whether an unattended promotion is allowed by
	// max_lag_operations; RPOGuard is the guard's words, with the
	// estimated loss.
	RPOGuardPasses bool   `json:"rpo_guard_passes"`
	RPOGuard       string `json:"rpo_guard"`
}

// Approval is an approval request as a page shows it.
type Approval struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// OnExpiry says what happens when it expires unanswered.
	OnExpiry string `json:"on_expiry,omitempty"`
	// The exact commands and API calls that answer it.
	ApproveCommand string `json:"approve_command,omitempty"`
	DenyCommand    string `json:"deny_command,omitempty"`
	ApproveAPI     string `json:"approve_api,omitempty"`
	DenyAPI        string `json:"deny_api,omitempty"`
	// By and Reason: who answered it, and why (granted, denied).
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Promotion is a promotion as an event names it.
type Promotion struct {
	ID       string `json:"id,omitempty"`
	By       string `json:"by,omitempty"`
	Graceful bool   `json:"graceful"`
	// Error is why it failed (promotion_failed).
	Error string `json:"error,omitempty"`
}

// Key is the incident key of a pair's incident of a kind.
func Key(pair, kind string) string { return "drwatch/" + pair + "/" + kind }

// Title is the event's one-line text with its pair: "[orders] leader
// down: ...", marked when it is a test.
func (e *Event) Title() string {
	t := "[" + e.Pair + "] " + e.Summary
	if e.Test {
		t = "TEST - " + t
	}
	return t
}

// Details is the event as flat key/value text, for receivers that take a
// map of strings (Opsgenie's details, Alertmanager's annotations, an exec
// hook's environment). Empty values are left out.
func (e *Event) Details() map[string]string {
	m := map[string]string{
		"event": e.Event, "pair": e.Pair, "state": e.State, "from": e.From, "mode": e.Mode,
		"at": e.At.UTC().Format(time.RFC3339), "summary": e.Summary, "reasons": strings.Join(e.Reasons, "\n"),
		"next": e.Next, "action": string(e.Action), "severity": string(e.Severity),
		"incident_key": e.IncidentKey, "by": e.By, "status_url": e.StatusURL, "source": e.Source, "id": e.ID,
	}
	if e.Test {
		m["test"] = "true"
	}
	if l := e.Lag; l != nil {
		if l.Operations != nil {
			m["lag_operations"] = strconv.FormatInt(*l.Operations, 10)
			m["lag_measured_at"] = l.MeasuredAt.UTC().Format(time.RFC3339)
		}
		m["rpo_guard_passes"] = strconv.FormatBool(l.RPOGuardPasses)
		m["rpo_guard"] = l.RPOGuard
	}
	if a := e.Approval; a != nil {
		m["approval_id"] = a.ID
		if !a.ExpiresAt.IsZero() {
			m["approval_expires_at"] = a.ExpiresAt.UTC().Format(time.RFC3339)
		}
		m["approval_on_expiry"] = a.OnExpiry
		m["approve_command"] = a.ApproveCommand
		m["deny_command"] = a.DenyCommand
		m["approve_api"] = a.ApproveAPI
		m["deny_api"] = a.DenyAPI
		m["approval_by"] = a.By
		m["approval_reason"] = a.Reason
	}
	if p := e.Promotion; p != nil {
		m["promotion_id"] = p.ID
		m["promotion_by"] = p.By
		m["promotion_graceful"] = strconv.FormatBool(p.Graceful)
		m["promotion_error"] = p.Error
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// Text is the event as a few readable lines: what happened, why, what
// drwatch does next, and how to answer a pending approval. Chat messages
// and descriptions use it.
func (e *Event) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", e.Title())
	fmt.Fprintf(&b, "State: %s", e.State)
	if e.From != "" && e.From != e.State {
		fmt.Fprintf(&b, " (was %s)", e.From)
	}
	fmt.Fprintf(&b, " · mode %s · %s\n", e.Mode, e.At.UTC().Format(time.RFC3339))
	if len(e.Reasons) > 0 {
		b.WriteString("Why:\n")
		for _, r := range e.Reasons {
			fmt.Fprintf(&b, "  - %s\n", r)
		}
	}
	if l := e.Lag; l != nil && l.RPOGuard != "" {
		fmt.Fprintf(&b, "RPO guard: %s\n", l.RPOGuard)
	}
	if e.Next != "" {
		fmt.Fprintf(&b, "Next: %s\n", e.Next)
	}
	if a := e.Approval; a != nil && a.ApproveCommand != "" {
		fmt.Fprintf(&b, "Approve: %s\n", a.ApproveCommand)
		fmt.Fprintf(&b, "Deny:    %s\n", a.DenyCommand)
		if a.ApproveAPI != "" {
			fmt.Fprintf(&b, "API:     %s\n", a.ApproveAPI)
		}
	}
	if e.StatusURL != "" {
		fmt.Fprintf(&b, "Status: %s\n", e.StatusURL)
	}
	return strings.TrimRight(b.String(), "\n")
}
