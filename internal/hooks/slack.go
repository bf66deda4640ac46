package hooks

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

// Limits of Block Kit (https://api.slack.com/reference/block-kit/blocks).
const (
	slackMaxHeader  = 150
	slackMaxSection = 3000
	slackMaxText    = 3000 // the fallback text: a notification shows less
)

// slack posts a message per event to an incoming webhook
// (https://api.slack.com/messaging/webhooks). The webhook's URL is the
// credential: it is never put in an error or a log line.
type slack struct {
	name    string
	url     string
	secrets []string // the URL and its parts a refusal may quote
	http    *http.Client
}

func newSlack(h *config.Hook, d Deps) (Hook, error) {
	if !h.Secret.IsSet() {
		return nil, fmt.Errorf("hooks[%s]: a slack hook needs its webhook URL (url_file or url_env)", h.Name)
	}
	u := h.Secret.Reveal()
	secrets := []string{u}
	if p, err := url.Parse(u); err == nil {
		// A receiver quoting the request names its path, not the URL.
		secrets = append(secrets, p.RequestURI(), p.EscapedPath(), path.Base(p.Path), p.RawQuery)
	}
	return &slack{name: h.Name, url: u, secrets: secrets, http: d.HTTP}, nil
}

func (s *slack) Name() string { return s.name }

// Deliver posts the message. Slack answers 200 "ok"; its refusals (400
// invalid_payload, 403 invalid_token, 404 no_service, 410
// channel_is_archived) are final; 429 (after its Retry-After) and 5xx are
// retried.
func (s *slack) Deliver(ctx context.Context, ev Event) error {
	_, err := postJSON(ctx, s.http, "Slack", s.url, nil, slackMessage(&ev))
	return redact(err, s.secrets...)
}

type slackMsg struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackMessage renders ev: a header saying what happened, the state and
// why, what drwatch does next, the RPO guard, how to answer a pending
// approval, and a link to the status page. text is the one-line fallback
// notifications show.
func slackMessage(ev *Event) slackMsg {
	m := slackMsg{Text: truncate(ev.Title(), slackMaxText)}
	add := func(b slackBlock) { m.Blocks = append(m.Blocks, b) }
	section := func(lines ...string) {
		if t := strings.Join(lines, "\n"); t != "" {
			add(slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(t, slackMaxSection)}})
		}
	}

	add(slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(slackIcon(ev)+" "+ev.Title(), slackMaxHeader), Emoji: true}})
	if ev.Test {
		section("*This is a test* (`drwatch hooks test`): nothing happened to the pair.")
	}

	state := fmt.Sprintf("*State:* `%s`", esc(ev.State))
	if ev.From != "" && ev.From != ev.State {
		state += fmt.Sprintf(" (was `%s`)", esc(ev.From))
	}
	if ev.Mode != "" {
		state += fmt.Sprintf(" · mode `%s`", esc(ev.Mode))
	}
	if !ev.At.IsZero() {
		state += " · " + ev.At.UTC().Format(time.RFC3339)
	}
	lines := []string{state}
	if len(ev.Reasons) > 0 {
		lines = append(lines, "*Why:*")
		for _, r := range ev.Reasons {
			lines = append(lines, "• "+esc(r))
		}
	}
	section(lines...)

	lines = nil
	if ev.Next != "" {
		lines = append(lines, "*Next:* "+esc(ev.Next))
	}
	if l := ev.Lag; l != nil && l.RPOGuard != "" {
		verdict := "fails"
		if l.RPOGuardPasses {
			verdict = "passes"
		}
		lines = append(lines, fmt.Sprintf("*RPO guard %s:* %s", verdict, esc(l.RPOGuard)))
	}
	if p := ev.Promotion; p != nil && p.Error != "" {
		lines = append(lines, "*Promotion failed:* "+esc(p.Error))
	}
	section(lines...)

	if a := ev.Approval; a != nil {
		section(slackApproval(a)...)
	}

	var ctx []string
	if ev.StatusURL != "" {
		ctx = append(ctx, fmt.Sprintf("<%s|drwatch status>", esc(ev.StatusURL)))
	}
	if ev.Source != "" {
		ctx = append(ctx, "from "+esc(ev.Source))
	}
	ctx = append(ctx, "`"+esc(ev.Event)+"`")
	add(slackBlock{Type: "context", Elements: []*slackText{{Type: "mrkdwn", Text: truncate(strings.Join(ctx, " · "), slackMaxSection)}}})
	return m
}

// slackApproval is who answered a request (or vetoed a promotion), and
// how to answer or overrule: a denial or a veto holds until a human
// approves, so the command is there too.
func slackApproval(a *Approval) []string {
	var lines []string
	if a.By != "" {
		by := "*Answered by* " + esc(a.By)
		if a.ID != "" {
			by = fmt.Sprintf("*Approval request* `%s` *answered by* %s", esc(a.ID), esc(a.By))
		}
		if a.Reason != "" {
			by += ": " + esc(a.Reason)
		}
		lines = append(lines, by)
		if a.ApproveCommand == "" {
			return lines
		}
		lines = append(lines, "*To promote anyway:*", "```"+esc(a.ApproveCommand)+"```")
		if a.ApproveAPI != "" {
			lines = append(lines, "*By API:* `"+esc(a.ApproveAPI)+"`")
		}
		return lines
	}
	head := fmt.Sprintf("*Approval request* `%s`", esc(a.ID))
	if a.ID == "" {
		head = "*drwatch holds: a human can promote by approving*"
	}
	if !a.ExpiresAt.IsZero() {
		head += " expires at " + a.ExpiresAt.UTC().Format(time.RFC3339)
		if a.OnExpiry != "" {
			head += " (then: " + esc(a.OnExpiry) + ")"
		}
	}
	lines = append(lines, head)
	if a.ApproveCommand != "" {
		lines = append(lines, "*Approve:*", "```"+esc(a.ApproveCommand)+"```")
	}
	if a.DenyCommand != "" {
		lines = append(lines, "*Deny:*", "```"+esc(a.DenyCommand)+"```")
	}
	if a.ApproveAPI != "" {
		lines = append(lines, "*Approve by API:* `"+esc(a.ApproveAPI)+"`")
	}
	if a.DenyAPI != "" {
		lines = append(lines, "*Deny by API:* `"+esc(a.DenyAPI)+"`")
	}
	return lines
}

func slackIcon(ev *Event) string {
	switch {
	case ev.Test:
		return ":test_tube:"
	case ev.Action == Resolve:
		return ":white_check_mark:"
	case ev.Severity == Critical:
		return ":rotating_light:"
	case ev.Severity == Warning:
		return ":warning:"
	}
	return ":information_source:"
}

// esc escapes the three characters Slack's mrkdwn reserves
// (https://api.slack.com/reference/surfaces/formatting#escaping).
var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
