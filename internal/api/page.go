package api

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/watch"
)

// The status page: GET / renders every pair for people (a phone at 3 a.m.
// included), POST /ui/pairs/{pair}/{action} is its forms' way to the same
// commands as the JSON API (run). It is plain HTML from html/template,
// which escapes everything; no script, no cookie, no session: a form
// carries the API token, and is offered only when one is configured.

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

const (
	// historyShown is how many journaled transitions a pair's timeline shows.
	historyShown = 20
	// indicesShown bounds a pair's per-index lag table.
	indicesShown = 50
)

// pageActions are the commands the page offers, in the order it offers
// them; promote is the API's and the CLI's only.
var pageActions = []string{"approve", "deny", "pause", "resume"}

// look is how a state reads on the page: a word and a sign beside its
// colour, and what it means (docs/events.md, "The states").
type look struct {
	Label, Sign, Meaning string
}

var looks = map[string]look{
	string(policy.Healthy):          {"HEALTHY", "✓", "The leader answers."},
	string(policy.Suspect):          {"SUSPECT", "⚠", "Probes of the leader fail, not yet long or often enough to call it down."},
	string(policy.Isolated):         {"ISOLATED", "⚠", "drwatch lost the leader but the follower still sees it: drwatch is the one cut off. It never acts in this state."},
	string(policy.LeaderDown):       {"LEADER DOWN", "✗", "The leader is down and drwatch holds: manual or dry-run mode, a denial or an expired request. A human can approve or promote."},
	string(policy.AwaitingApproval): {"AWAITING APPROVAL", "⚠", "The leader is down. A human must approve or deny the promotion of the follower."},
	string(policy.Promoting):        {"PROMOTING", "▶", "A promotion of the follower is running."},
	string(policy.Promoted):         {"PROMOTED", "✓", "The follower was promoted and takes the writes. drwatch keeps watching the old leader."},
	string(policy.Failed):           {"PROMOTION FAILED", "✗", "A promotion attempt failed; it is retried after a backoff."},
	string(policy.Paused):           {"PAUSED", "‖", "A human paused the pair: no decisions until the pause expires or is resumed."},
}

// stamp is a moment as the page shows it: absolute (UTC) and relative to
// the page's time.
type stamp struct {
	At  time.Time
	Rel string // "12m ago", "in 12m"
}

// ISO is the stamp for a <time datetime> attribute.
func (s stamp) ISO() string { return s.At.UTC().Format(time.RFC3339) }

// Clock is the stamp for people.
func (s stamp) Clock() string { return s.At.UTC().Format("2006-01-02 15:04:05 UTC") }

type pageView struct {
	Now     stamp
	Title   string
	Refresh bool   // the live view reloads itself (page.html: every 10 s); not while a pair's forms are open
	Server  string // the URL this page was asked for at, for the commands shown
	Actions bool   // an API token is configured: the page offers forms
	Act     string // the pair whose forms are open
	Notice  string // the result of the last command, after its redirect
	Error   string // why the command just posted was refused
	Pairs   []pairView
}

type pairView struct {
	Name, Mode string
	State      string
	Look       look
	Since      *stamp
	Reasons    []string
	RPO        *fact
	Approval   *approvalView
	Problems   []string
	Observed   *stamp
	Facts      []fact
	Indices    []indexView
	More       int // indices not listed
	History    []transitionView
	Offers     []string // the page's commands that apply now
	Forms      []formView
}

// fact is one line of what drwatch sees: Word says in text what Tone
// says in colour (ok, warn, bad).
type fact struct {
	Name, Word, Detail, Tone string
}

type indexView struct {
	Name, Lag, State, Note string
	Tone                   string
}

type transitionView struct {
	At       stamp
	From, To string
	Events   []string
	Reasons  []string
}

type approvalView struct {
	ID                string
	Expires           stamp
	Expired           bool
	OnExpiry          string
	Loss              string
	Approve, Deny     string // the CLI commands
	Curl              string // the API call
	GuardPasses       bool
	OnApprovalTimeout string
}

type formView struct {
	Action, Title, Button, Help string
	ID                          string // approve: the request approved
	Pause                       bool   // ask how long
}

// statusPage is GET /: the live view (reloading itself), or with ?act=P
// the same page with pair P's forms open (not reloading while someone
// types). After a command the redirect names it (?done=A&pair=P) and the
// page says what became of the pair.
func (a *server) statusPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := a.view(r, q.Get("act"))
	if done, name := q.Get("done"), q.Get("pair"); slices.Contains(pageActions, done) {
		for _, p := range v.Pairs {
			if p.Name == name {
				v.Notice = fmt.Sprintf("%s of pair %s applied: it is now %s (its timeline below shows the command).", done, name, p.State)
			}
		}
	}
	a.render(w, http.StatusOK, v)
}

// pageAction is POST /ui/pairs/{pair}/{action}: a form of the page. It
// asks for the API token as the JSON API does (checkToken), runs the same
// command path (run), and answers 303 to the live view, or the page again
// with the reason and a 4xx (5xx: an unwritable journal).
func (a *server) pageAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("pair"), r.PathValue("action")
	fail := func(code int, why string) {
		v := a.view(r, name)
		v.Error = fmt.Sprintf("%s of pair %s refused (HTTP %d): %s", action, name, code, why)
		a.render(w, code, v)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		fail(http.StatusUnsupportedMediaType, "the page's forms post application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "unreadable form: "+err.Error())
		return
	}
	if code, err := a.checkToken(r.PostForm.Get("token")); err != nil {
		if errors.Is(err, errBadToken) {
			err = errors.New("missing or wrong API token (the token of api.token_file)")
		}
		fail(code, err.Error())
		return
	}
	req, code, err := formRequest(action, r.PostForm, r.RemoteAddr)
	if err != nil {
		fail(code, err.Error())
		return
	}
	resp, code := a.run(name, action, req, "page")
	if code == http.StatusAccepted { // ha: queued for the lease holder
		v := a.view(r, name)
		v.Notice = fmt.Sprintf("%s of pair %s queued: %s", action, name, resp.Error)
		a.render(w, code, v)
		return
	}
	if resp.Error != "" {
		fail(code, resp.Error)
		return
	}
	http.Redirect(w, r, "/?"+url.Values{"done": {action}, "pair": {name}}.Encode()+"#pair-"+name, http.StatusSeeOther)
}

// formRequest reads a form of the page into the request the JSON API
// would have received. Fields are the JSON body's, and the token.
func formRequest(action string, f url.Values, remote string) (actionRequest, int, error) {
	if !slices.Contains(pageActions, action) {
		if action == "promote" {
			return actionRequest{}, http.StatusNotFound, errors.New("the status page does not promote: use POST /api/v1/pairs/{pair}/promote, or approve a pending request")
		}
		return actionRequest{}, http.StatusNotFound, fmt.Errorf("unknown action %s (the page offers %s)", action, strings.Join(pageActions, ", "))
	}
	allowed := map[string]bool{"token": true, "reason": true, "by": true, "id": action == "approve", "for": action == "pause"}
	for k := range f {
		if !allowed[k] {
			return actionRequest{}, http.StatusBadRequest, fmt.Errorf("unknown form field %q for %s", k, action)
		}
	}
	req := actionRequest{ID: strings.TrimSpace(f.Get("id")), Reason: strings.TrimSpace(f.Get("reason")),
		For: strings.TrimSpace(f.Get("for")), By: strings.TrimSpace(f.Get("by"))}
	if req.By == "" {
		host, _, _ := net.SplitHostPort(remote)
		req.By = "page@" + host
	}
	return req, 0, nil
}

func (a *server) render(w http.ResponseWriter, code int, v pageView) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, v); err != nil {
		a.log.Error("status page", zap.Error(err))
		writeText(w, http.StatusInternalServerError, "the status page failed to render: "+err.Error()+"\n")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No script at all; the forms post to this server only.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// view is the page's data: the status of every pair, with its history
// and, when the token is configured and act names it, its forms.
func (a *server) view(r *http.Request, act string) pageView {
	st := a.d.Status()
	now := st.Time
	if now.IsZero() {
		now = time.Now()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	server := a.d.ExternalURL()
	if server == "" {
		server = scheme + "://" + r.Host
	}
	v := pageView{Now: stamp{At: now}, Refresh: true, Server: server, Actions: a.d.Token().IsSet()}
	for _, ps := range st.Pairs {
		wt := a.d.Watcher(ps.Name) // nil: reloaded away since the status
		p := pairOf(ps, wt, v.Server, now)
		if wt != nil && v.Actions {
			p.Offers, p.Forms = offers(wt, now)
			if act == ps.Name {
				v.Act, v.Refresh = act, false
			} else {
				p.Forms = nil
			}
		}
		v.Pairs = append(v.Pairs, p)
	}
	v.Title = title(v.Pairs)
	return v
}

// title counts the pairs by state, the states most in need of a human
// first: "drwatch: 1 awaiting_approval, 2 healthy".
func title(pairs []pairView) string {
	if len(pairs) == 0 {
		return "drwatch: no pairs"
	}
	n := map[string]int{}
	for _, p := range pairs {
		n[p.State]++
	}
	order := []string{"awaiting_approval", "failed", "leader_down", "promoting", "suspect", "isolated", "paused", "promoted", "healthy", "unknown"}
	var parts []string
	for _, s := range order {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return "drwatch: " + strings.Join(parts, ", ")
}

func pairOf(ps report.PairStatus, wt *watch.Watcher, server string, now time.Time) pairView {
	p := pairView{Name: ps.Name, Mode: ps.Mode, State: "unknown", Problems: ps.Problems,
		Look: look{"UNKNOWN", "?", "No decision state: drwatch has not decided anything about this pair yet."}}
	if d := ps.Decision; d != nil {
		p.State, p.Reasons = d.State, d.Reasons
		if l, ok := looks[d.State]; ok {
			p.Look = l
		}
		p.Since = &stamp{At: d.Since, Rel: ago(now, d.Since)}
		p.RPO = &fact{Name: "RPO guard", Word: "PASSES", Detail: d.RPOGuardReason, Tone: "ok"}
		if !d.RPOGuard {
			p.RPO.Word, p.RPO.Tone = "FAILS", "bad"
		}
		if d.ApprovalID != "" {
			p.Approval = approvalOf(ps.Name, d, wt, server, now)
		}
	}
	if o := ps.Observation; o != nil {
		p.Observed = &stamp{At: o.Time, Rel: ago(now, o.Time)}
		p.Facts = facts(o)
		p.Indices, p.More = indices(o.Follower.Replication)
	}
	if wt != nil {
		for _, t := range wt.History(historyShown) {
			p.History = append(p.History, transitionView{At: stamp{At: t.At, Rel: ago(now, t.At)},
				From: string(t.From), To: string(t.To), Events: policy.EventNames(t.Events), Reasons: t.Reasons})
		}
	}
	return p
}

func approvalOf(pair string, d *report.Decision, wt *watch.Watcher, server string, now time.Time) *approvalView {
	ap := &approvalView{ID: d.ApprovalID, Expires: stamp{At: d.ApprovalExpiresAt}, Loss: d.RPOGuardReason, GuardPasses: d.RPOGuard}
	if left := d.ApprovalExpiresAt.Sub(now); left > 0 {
		ap.Expires.Rel = "in " + rel(left)
	} else {
		ap.Expired, ap.Expires.Rel = true, "expired "+rel(-left)+" ago: drwatch acts on it at its next probe"
	}
	onTimeout := "hold"
	if wt != nil {
		onTimeout = wt.Pair().Resolved.OnApprovalTimeout
	}
	ap.OnApprovalTimeout = onTimeout
	switch onTimeout {
	case "promote":
		verdict := "it fails now"
		if d.RPOGuard {
			verdict = "it passes now"
		}
		ap.OnExpiry = "drwatch promotes the follower if the RPO guard passes then (" + verdict + "); otherwise it holds in leader_down and a human can still approve."
	default:
		ap.OnExpiry = "drwatch holds in leader_down: nothing is promoted until a human approves (or promotes through the API)."
	}
	srv := shellArg(server)
	ap.Approve = fmt.Sprintf("drwatch approve --server %s --pair %s --id %s", srv, shellArg(pair), shellArg(d.ApprovalID))
	ap.Deny = fmt.Sprintf("drwatch deny --server %s --pair %s", srv, shellArg(pair))
	ap.Curl = fmt.Sprintf(`curl -X POST -H "Authorization: Bearer $DRWATCH_API_TOKEN" -d '{"id":%q}' %s`,
		d.ApprovalID, shellArg(server+"/api/v1/pairs/"+pair+"/approve"))
	return ap
}

// shellArg quotes s for a POSIX shell unless it needs no quoting.
func shellArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// offers are the page's commands that apply to the pair now, as policy's
// commands answer for its current state (and policy.Promotable for
// approve), with their forms.
func offers(wt *watch.Watcher, now time.Time) ([]string, []formView) {
	st := wt.State()
	var names []string
	var forms []formView
	for _, action := range pageActions {
		c, _, err := command(action, actionRequest{ID: st.ApprovalID})
		if err != nil {
			continue
		}
		if _, err := c.Apply(st, now); err != nil {
			continue
		}
		if action == "approve" && policy.Promotable(wt.Pair(), policy.ByDaemon) != nil {
			continue
		}
		fv := formView{Action: action}
		switch action {
		case "approve":
			fv.ID = st.ApprovalID
			fv.Title, fv.Button = "Approve", "Approve: promote "+wt.Pair().Name+" now"
			fv.Help = "Promotes the follower now, whatever the RPO guard says."
			if fv.ID != "" {
				fv.Title = "Approve request " + fv.ID
			}
		case "deny":
			fv.Title, fv.Button = "Deny", "Deny: do not promote"
			fv.Help = "Holds in leader_down until the leader answers again or someone approves after all."
		case "pause":
			fv.Pause = true
			fv.Title, fv.Button = "Pause", "Pause decisions"
			fv.Help = "No decisions until the pause expires (1s to 7 days) or is resumed."
		case "resume":
			fv.Title, fv.Button = "Resume", "Resume decisions"
			fv.Help = "Ends the pause now."
		}
		names = append(names, action)
		forms = append(forms, fv)
	}
	return names, forms
}

// facts are the observation's lines: leader, follower, witness, lag, and
// for an Aiven pair what the Aiven API reports.
func facts(o *observe.Observation) []fact {
	out := osFacts(o)
	if a := o.Aiven; a != nil {
		out = append(out, aivenFact(a, o.Time))
	}
	return out
}

// aivenFact is the Aiven API's view in one line: the leader service's
// state as its word (or the API failing), both services, the CCR
// integration and the reading's age as its detail.
func aivenFact(a *observe.Aiven, at time.Time) fact {
	f := fact{Name: "Aiven", Word: "UNKNOWN", Detail: report.AivenSummary(a, at), Tone: "ok"}
	if a.Leader != nil {
		f.Word = a.Leader.State
	}
	for _, s := range []*observe.AivenService{a.Leader, a.Follower} {
		if s != nil && (s.Recycling() || !s.AllRunning()) {
			f.Tone = "warn"
		}
	}
	if len(report.AivenProblems(a)) > 0 {
		f.Tone = "bad"
	}
	if a.Failure != nil {
		f.Word = "API FAILING"
	}
	return f
}

// osFacts are what OpenSearch answered: leader, follower, witness, lag.
func osFacts(o *observe.Observation) []fact {
	var out []fact
	l := o.Leader
	switch {
	case !l.Reachable:
		out = append(out, fact{"Leader", "UNREACHABLE", failure(l.Failure), "bad"})
	default:
		tone := map[string]string{"green": "ok", "yellow": "warn"}[l.Health]
		if tone == "" {
			tone = "bad"
		}
		detail := "health " + l.Health
		if l.ClusterName != "" {
			detail += ", cluster " + l.ClusterName
		}
		out = append(out, fact{"Leader", "ANSWERS", detail + ", " + latency(l.Latency), tone})
	}
	f := o.Follower
	if !f.Reachable {
		return append(out, fact{"Follower", "UNREACHABLE", failure(f.Failure), "bad"})
	}
	out = append(out, fact{"Follower", "ANSWERS", latency(f.Latency), "ok"})
	r := f.Remote
	switch {
	case r.Failure != nil:
		out = append(out, fact{"Witness", "UNKNOWN", "the follower's remote-cluster info is unreadable: " + failure(r.Failure), "warn"})
	case !r.Known:
		out = append(out, fact{"Witness", "UNKNOWN", fmt.Sprintf("the follower has no remote cluster %q (check leader_alias)", r.Alias), "bad"})
	case r.Connected:
		out = append(out, fact{"Witness", "CONNECTED", fmt.Sprintf("the follower sees the leader (remote %q, %s, %d connected)", r.Alias, r.Mode, r.NodesConnected+r.ProxySocketsConnected), "ok"})
	default:
		out = append(out, fact{"Witness", "DISCONNECTED", fmt.Sprintf("the follower lost the leader (remote %q)", r.Alias), "bad"})
	}
	rep := f.Replication
	switch {
	case rep.Failure != nil:
		out = append(out, fact{"Lag", "UNKNOWN", "replication state unreadable: " + failure(rep.Failure), "bad"})
	case len(rep.Indices) == 0:
		out = append(out, fact{"Lag", "NO INDEX", "no follower index in scope", "warn"})
	default:
		all := len(rep.Indices)
		states := fmt.Sprintf("%d syncing, %d not syncing", rep.Syncing, rep.Stopped)
		switch n := rep.UnknownLag(); {
		case n == all:
			out = append(out, fact{"Lag", "UNKNOWN", fmt.Sprintf("for all %d indices; %s", all, states), "bad"})
		case n > 0:
			out = append(out, fact{"Lag", "UNKNOWN", fmt.Sprintf("for %d of %d indices; the other %d: %d operations in total (largest %d); %s",
				n, all, all-n, rep.TotalLag, rep.MaxLag, states), "bad"})
		case rep.TotalLag == 0:
			out = append(out, fact{"Lag", "ZERO", fmt.Sprintf("on all %d indices, measured on both clusters; %s", all, states), "ok"})
		default:
			out = append(out, fact{"Lag", "BEHIND", fmt.Sprintf("%d operations in total over %d indices (largest %d), measured on both clusters; %s",
				rep.TotalLag, all, rep.MaxLag, states), "warn"})
		}
	}
	return out
}

// indices are the lag table's rows: the lagging, unknown and disagreeing
// indices first (largest first), then the rest, at most indicesShown.
func indices(r observe.Replication) ([]indexView, int) {
	order := r.LaggingIndices()
	seen := map[string]bool{}
	for _, ix := range order {
		seen[ix.Name] = true
	}
	for _, ix := range r.Indices {
		if !seen[ix.Name] {
			order = append(order, ix)
		}
	}
	var out []indexView
	for i, ix := range order {
		if i == indicesShown {
			return out, len(order) - i
		}
		v := indexView{Name: ix.Name, State: strings.ReplaceAll(ix.State, "_", " "), Tone: "ok"}
		switch {
		case !ix.LagKnown:
			v.Lag, v.Tone = "unknown", "bad"
			if ix.FollowerView != nil {
				v.Note = fmt.Sprintf("the follower's own view: %d (not a measurement)", ix.FollowerView.Lag)
			}
		default:
			v.Lag = fmt.Sprintf("%d ops", ix.Lag)
			if ix.Lag > 0 {
				v.Tone = "warn"
			}
			if ix.Disagrees() {
				v.Note = fmt.Sprintf("the follower believes %d: the leader is %d ahead", ix.FollowerView.Lag, ix.Lag)
			}
		}
		if ix.State != observe.StateSyncing {
			v.Tone = "bad"
		}
		out = append(out, v)
	}
	return out, 0
}

// failure is a failed call's message, with its class unless the message
// names it already.
func failure(f *observe.Failure) string {
	if f == nil {
		return "no detail"
	}
	if strings.Contains(f.Message, string(f.Class)) {
		return f.Message
	}
	return string(f.Class) + ": " + f.Message
}

func latency(d time.Duration) string {
	return "answered in " + d.Round(time.Millisecond).String()
}

func ago(now, t time.Time) string {
	if t.After(now) {
		return "just now"
	}
	return rel(now.Sub(t)) + " ago"
}

// rel is a duration for people: 45s, 3m 20s, 12m, 3h 5m, 2d 3h.
func rel(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 600 && s%60 != 0:
		return fmt.Sprintf("%dm %ds", s/60, s%60)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return fmt.Sprintf("%dh %dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
}
