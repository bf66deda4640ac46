package hooks

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/drwatch/drwatch/internal/config"
)

// Opsgenie's Alert API bases (https://docs.opsgenie.com/docs/alert-api):
// accounts in the EU region use the EU one.
const (
	OpsgenieURL   = "https://api.opsgenie.com"
	OpsgenieEUURL = "https://api.eu.opsgenie.com"
)

// Limits of the Alert API's fields, in characters.
const (
	ogMaxMessage     = 130
	ogMaxAlias       = 512
	ogMaxDescription = 15000
	ogMaxEntity      = 512
	ogMaxNote        = 25000
	ogMaxTag         = 50
	ogMaxDetails     = 8000 // keys and values, all together
)

// opsgenie creates an alert per incident key (its alias) and closes it by
// that alias. While an alert is open, Opsgenie folds further creates with
// its alias into it (its count rises).
type opsgenie struct {
	name string
	base string
	key  string // the API integration's key: a credential
	http *http.Client
}

func newOpsgenie(h *config.Hook, d Deps) (Hook, error) {
	if !h.Secret.IsSet() {
		return nil, fmt.Errorf("hooks[%s]: an opsgenie hook needs its API key (api_key_file or api_key_env)", h.Name)
	}
	base := OpsgenieURL
	switch {
	case h.URL != "":
		base = h.URL
	case h.Region == "eu":
		base = OpsgenieEUURL
	}
	return &opsgenie{name: h.Name, base: strings.TrimRight(base, "/"), key: h.Secret.Reveal(), http: d.HTTP}, nil
}

func (o *opsgenie) Name() string    { return o.name }
func (o *opsgenie) KeepsIncidents() {}

// ogAlert is a create request
// (https://docs.opsgenie.com/docs/alert-api#create-alert).
type ogAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
	Tags        []string          `json:"tags,omitempty"`
}

// ogClose is a close request
// (https://docs.opsgenie.com/docs/alert-api#close-alert).
type ogClose struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Deliver creates the incident's alert on a trigger and closes it on a
// resolve. Opsgenie answers 202 (it processes requests asynchronously);
// 401, 403 and 422 are final; 429 and 5xx are retried.
func (o *opsgenie) Deliver(ctx context.Context, ev Event) error {
	alias := truncate(incidentKey(&ev), ogMaxAlias)
	headers := map[string]string{"Authorization": "GenieKey " + o.key}
	var err error
	if ev.Action == Resolve {
		target := o.base + "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias"
		_, err = postJSON(ctx, o.http, "Opsgenie", target, headers, ogClose{Source: "drwatch", Note: truncate(ev.Text(), ogMaxNote)})
	} else {
		_, err = postJSON(ctx, o.http, "Opsgenie", o.base+"/v2/alerts", headers, o.render(&ev, alias))
	}
	return redact(err, o.key)
}

func (o *opsgenie) render(ev *Event, alias string) ogAlert {
	tags := []string{"drwatch"}
	for _, t := range []string{ev.Pair, ev.Event} {
		if t != "" {
			tags = append(tags, truncate(t, ogMaxTag))
		}
	}
	if ev.Test && !slices.Contains(tags, "test") {
		tags = append(tags, "test")
	}
	return ogAlert{
		Message:     truncate(ev.Title(), ogMaxMessage),
		Alias:       alias,
		Description: truncate(ev.Text(), ogMaxDescription),
		Details:     capDetails(ev.Details(), ogMaxDetails),
		Entity:      truncate(ev.Pair, ogMaxEntity),
		Source:      "drwatch",
		Priority:    ogPriority(ev.Severity),
		Tags:        tags,
	}
}

// ogPriority maps a severity to a priority: P1 critical, P3 warning, P5
// info.
func ogPriority(s Severity) string {
	switch s {
	case Critical:
		return "P1"
	case Warning:
		return "P3"
	}
	return "P5"
}

// capDetails fits details into budget characters (keys and values): the
// longest values are cut, to an equal share of what the shorter ones
// leave. The description has the text in full.
func capDetails(m map[string]string, budget int) map[string]string {
	total := 0
	for k, v := range m {
		total += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if total <= budget {
		return m
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(utf8.RuneCountInString(m[a]), utf8.RuneCountInString(m[b])), strings.Compare(a, b))
	})
	left := budget
	for _, k := range keys {
		left -= utf8.RuneCountInString(k)
	}
	out := make(map[string]string, len(m))
	for i, k := range keys {
		v := truncate(m[k], max(left/(len(keys)-i), 0))
		left -= utf8.RuneCountInString(v)
		out[k] = v
	}
	return out
}
