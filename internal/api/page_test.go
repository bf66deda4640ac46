package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/drill"
	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/markup"
	"github.com/drwatch/drwatch/internal/watch"
)

const testToken = "page-token-0123456789abcdef"

// fakeDaemon serves real watchers (built on a journal of the test's own,
// with no prober) and the observations the test gives them.
type fakeDaemon struct {
	token    config.Secret
	watchers []*watch.Watcher
	obs      map[string]*observe.Observation
	external string
	drills   *drill.Runner
}

func (f *fakeDaemon) Drills() *drill.Runner { return f.drills }

func (f *fakeDaemon) Status() report.Status {
	st := report.Status{Time: time.Now()}
	for _, w := range f.watchers {
		ps := w.Status()
		if o := f.obs[ps.Name]; o != nil {
			ps.Observation, ps.Problems = o, report.Problems(*o)
		}
		st.Pairs = append(st.Pairs, ps)
	}
	return st
}

func (f *fakeDaemon) Ready() bool                  { return true }
func (f *fakeDaemon) Reload(context.Context) error { return nil }
func (f *fakeDaemon) Token() config.Secret         { return f.token }
func (f *fakeDaemon) ExternalURL() string          { return f.external }

func (f *fakeDaemon) Watcher(name string) *watch.Watcher {
	for _, w := range f.watchers {
		if w.Pair().Name == name {
			return w
		}
	}
	return nil
}

// pairSpec is a watched pair in a given state.
type pairSpec struct {
	name  string
	mode  string
	state policy.State
	hist  []journal.Transition
	pol   func(*config.Policy)
}

type fixture struct {
	d   *fakeDaemon
	srv *httptest.Server
	j   *journal.Journal
}

func newFixture(t *testing.T, token bool, pairs ...pairSpec) *fixture {
	t.Helper()
	j, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	d := &fakeDaemon{obs: map[string]*observe.Observation{}}
	d.drills = &drill.Runner{Store: drill.NewStore(t.TempDir()), Pair: func(name string) (*config.Pair, drill.Pair, bool) {
		if w := d.Watcher(name); w != nil {
			return w.Pair(), w, true
		}
		return nil, nil, false
	}}
	if token {
		d.token = config.NewSecret(testToken)
	}
	m := metrics.New()
	for _, p := range pairs {
		pol := config.DefaultPolicy()
		if p.mode != "" {
			pol.Mode = p.mode
		}
		if p.pol != nil {
			p.pol(pol)
		}
		rec := &journal.Record{Pair: p.name, State: p.state, History: p.hist}
		if err := j.Save(rec); err != nil {
			t.Fatal(err)
		}
		d.watchers = append(d.watchers, watch.New(watch.Config{
			Pair: &config.Pair{Name: p.name, Resolved: pol}, Journal: j, Metrics: m,
			Log: zap.NewNop(), Runtime: watch.NewRuntime(rec),
		}))
	}
	srv := httptest.NewServer(Handler(d, prometheus.NewRegistry(), zap.NewNop()))
	t.Cleanup(srv.Close)
	return &fixture{d: d, srv: srv, j: j}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.PostForm(f.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// page gets a page and parses it strictly: it must be well-formed.
func (f *fixture) page(t *testing.T, path string) *markup.Node {
	t.Helper()
	resp, body := f.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d\n%s", path, resp.StatusCode, body)
	}
	return parse(t, resp, body)
}

func parse(t *testing.T, resp *http.Response, body string) *markup.Node {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	doc, err := markup.Parse(body, true)
	if err != nil {
		t.Fatalf("the page is not well-formed: %v\n%s", err, body)
	}
	return doc
}

// section is the pair's section of the page.
func section(t *testing.T, doc *markup.Node, pair string) *markup.Node {
	t.Helper()
	s := doc.ByAttr("data-pair", pair)
	if len(s) != 1 {
		t.Fatalf("%d sections for pair %s", len(s), pair)
	}
	return s[0]
}

// labelled is the text of the element the page labels (data-label) in n.
func labelled(t *testing.T, n *markup.Node, label string) string {
	t.Helper()
	m := n.ByAttr("data-label", label)
	if len(m) != 1 {
		t.Fatalf("%d elements labelled %s", len(m), label)
	}
	return m[0].Text()
}

func (f *fixture) phase(name string) policy.Phase { return f.d.Watcher(name).Phase() }

func healthyState(since time.Time) policy.State {
	return policy.State{Phase: policy.Healthy, Since: since, Reasons: []string{"leader answers (health green)"}}
}

func awaitingState(requested time.Time, id string) policy.State {
	return policy.State{Phase: policy.AwaitingApproval, Since: requested, Reasons: []string{"leader unreachable for 45s (9 failed probes)", "awaiting approval (expires in 15m0s): request " + id},
		ApprovalRequest: policy.ApprovalRequest{ApprovalRequested: requested, ApprovalID: id, ApprovalGuardOK: true},
		Tracking:        policy.Tracking{LastGoodLag: &policy.LagReading{TotalOperations: 20, MaxOperations: 20, Indices: 1, At: requested.Add(-time.Minute), RateKnown: true}},
		Outage:          policy.Outage{OutageStart: requested.Add(-50 * time.Second), FailedProbes: 9}}
}

// Every state renders with its word (not its colour alone), its meaning,
// since when, and its reasons.
func TestStatusPageRendersEveryState(t *testing.T) {
	since := time.Now().Add(-90 * time.Minute)
	want := map[policy.Phase]string{
		policy.Healthy: "HEALTHY", policy.Suspect: "SUSPECT", policy.Isolated: "ISOLATED", policy.LeaderDown: "LEADER DOWN",
		policy.AwaitingApproval: "AWAITING APPROVAL", policy.Promoting: "PROMOTING", policy.Promoted: "PROMOTED",
		policy.Failed: "PROMOTION FAILED", policy.Paused: "PAUSED",
	}
	if len(want) != len(policy.Phases) {
		t.Fatalf("the test covers %d states, policy has %d", len(want), len(policy.Phases))
	}
	var specs []pairSpec
	for _, ph := range policy.Phases {
		st := policy.State{Phase: ph, Since: since, Reasons: []string{"reason of " + string(ph)}}
		if ph == policy.AwaitingApproval {
			st.ApprovalRequested, st.ApprovalID = since, "req-every"
		}
		specs = append(specs, pairSpec{name: strings.ReplaceAll(string(ph), "_", "-"), state: st})
	}
	f := newFixture(t, false, specs...)
	resp, body := f.get(t, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	doc := parse(t, resp, body)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q allows more than styles", csp)
	}
	if len(doc.ByName("script")) != 0 {
		t.Error("the page has a script")
	}
	if m := doc.All(func(n *markup.Node) bool { return n.Name == "meta" && n.Attrs["http-equiv"] == "refresh" }); len(m) != 1 || m[0].Attrs["content"] != "10; url=/" {
		t.Errorf("the live view does not reload itself every 10s: %v", m)
	}
	if m := doc.All(func(n *markup.Node) bool { return n.Name == "meta" && n.Attrs["name"] == "viewport" }); len(m) != 1 {
		t.Error("no viewport meta")
	}
	for _, ph := range policy.Phases {
		name := strings.ReplaceAll(string(ph), "_", "-")
		s := section(t, doc, name)
		if s.Attrs["data-state"] != string(ph) || !s.HasClass("s-"+string(ph)) {
			t.Errorf("%s: data-state %q, class %q", name, s.Attrs["data-state"], s.Attrs["class"])
		}
		if got := labelled(t, s, "state"); !strings.HasSuffix(got, " "+want[ph]) {
			t.Errorf("%s: state label %q, want %q", name, got, want[ph])
		}
		text := s.Text()
		for _, w := range []string{"reason of " + string(ph), "since " + since.UTC().Format("2006-01-02 15:04:05 UTC"), "(1h 30m ago)", looks[string(ph)].Meaning} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: no %q in %q", name, w, text)
			}
		}
	}
	// The nav lists every pair with its state word.
	nav := doc.ByName("nav")
	if len(nav) != 1 || !strings.Contains(nav[0].Text(), "awaiting-approval: AWAITING APPROVAL") {
		t.Errorf("nav: %v", nav)
	}
	if title := doc.ByName("title")[0].Text(); !strings.HasPrefix(title, "drwatch: 1 awaiting_approval, 1 failed, 1 leader_down") {
		t.Errorf("title %q does not lead with what needs a human", title)
	}
}

// A pending approval: its id, when it expires (absolute and relative),
// what happens then, the estimated loss, and the exact commands, with the
// URL the page was asked at.
func TestStatusPageApproval(t *testing.T) {
	requested := time.Now().Add(-3*time.Minute + 30*time.Second) // expires in 12m30s
	f := newFixture(t, false,
		pairSpec{name: "orders", state: awaitingState(requested, "req-abc123")},
		pairSpec{name: "logs", state: awaitingState(requested, "req-def456"), pol: func(p *config.Policy) { p.OnApprovalTimeout = "promote" }},
	)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
	req.Host = "drwatch.example:9464"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc := parse(t, resp, string(b))
	st := f.d.Status()

	s := section(t, doc, "orders")
	ap := doc.ID("approval-orders")
	if ap == nil {
		t.Fatal("no approval section")
	}
	if got := labelled(t, ap, "approval-id"); got != "req-abc123" {
		t.Errorf("approval id %q", got)
	}
	exp := requested.Add(15 * time.Minute).UTC().Format("2006-01-02 15:04:05 UTC")
	text := ap.Text()
	for _, w := range []string{
		"Expires at " + exp + " (in 12m)",
		"on_approval_timeout: hold",
		"drwatch holds in leader_down",
		"Estimated loss (RPO guard passes): " + st.Pairs[0].Decision.RPOGuardReason,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("approval: no %q in %q", w, text)
		}
	}
	if !strings.Contains(st.Pairs[0].Decision.RPOGuardReason, "estimated loss 20 operations") {
		t.Fatalf("the fixture's RPO guard: %q", st.Pairs[0].Decision.RPOGuardReason)
	}
	for label, want := range map[string]string{
		"approve-command": "drwatch approve --server http://drwatch.example:9464 --pair orders --id req-abc123",
		"deny-command":    "drwatch deny --server http://drwatch.example:9464 --pair orders",
		"curl-command":    `curl -X POST -H "Authorization: Bearer $DRWATCH_API_TOKEN" -d '{"id":"req-abc123"}' http://drwatch.example:9464/api/v1/pairs/orders/approve`,
	} {
		if got := labelled(t, s, label); got != want {
			t.Errorf("%s:\n got %s\nwant %s", label, got, want)
		}
	}
	if text := doc.ID("approval-logs").Text(); !strings.Contains(text, "on_approval_timeout: promote") ||
		!strings.Contains(text, "drwatch promotes the follower if the RPO guard passes then (it passes now)") {
		t.Errorf("logs' approval does not say it promotes on expiry: %q", text)
	}
	// With external_url set, the commands name it, not the address asked.
	f.d.external = "https://drwatch.example.com"
	if got := labelled(t, section(t, f.page(t, "/"), "orders"), "approve-command"); got != "drwatch approve --server https://drwatch.example.com --pair orders --id req-abc123" {
		t.Errorf("with external_url: %s", got)
	}
	// No approval section without a pending request.
	f2 := newFixture(t, false, pairSpec{name: "orders", state: healthyState(time.Now())})
	if f2.page(t, "/").ID("approval-orders") != nil {
		t.Error("an approval section for a healthy pair")
	}
}

func TestShellArg(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9464": "http://127.0.0.1:9464",
		"req-abc":               "req-abc",
		"http://a b":            "'http://a b'",
		"x'y;rm":                `'x'\''y;rm'`,
		"":                      "''",
	} {
		if got := shellArg(in); got != want {
			t.Errorf("shellArg(%q) = %s, want %s", in, got, want)
		}
	}
}

// What the observation shows: leader, follower, witness, lag in total and
// per index (known and unknown), problems; the journal's timeline, newest
// first, the last 20.
func TestStatusPageObservationAndTimeline(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	var hist []journal.Transition
	for i := range 25 {
		hist = append(hist, journal.Transition{At: t0.Add(time.Duration(i) * time.Minute), From: policy.Healthy, To: policy.Suspect,
			Events: []policy.Event{"leader_suspect"}, Reasons: []string{fmt.Sprintf("transition %02d", i)}})
	}
	hist[24].From, hist[24].To, hist[24].Events = policy.Suspect, policy.LeaderDown, []policy.Event{"leader_down"}
	f := newFixture(t, false, pairSpec{name: "orders", state: policy.State{Phase: policy.LeaderDown, Since: t0.Add(24 * time.Minute), Reasons: []string{"held"}}, hist: hist})
	f.d.obs["orders"] = &observe.Observation{Pair: "orders", Time: time.Now().Add(-2 * time.Second),
		Leader: observe.Leader{Reachable: false, Failure: &observe.Failure{Class: observe.ClassConnRefused, Message: "dial tcp 10.0.0.1:9200: connection refused"}},
		Follower: observe.Follower{Reachable: true, Latency: 3 * time.Millisecond,
			Remote: observe.Remote{Alias: "leader", Known: true, Connected: false, Mode: "sniff"},
			Replication: observe.Replication{
				Indices: []observe.Index{
					{Name: "orders-1", State: "syncing", Lag: 0, LagKnown: true},
					{Name: "orders-2", State: "syncing", LagKnown: false, FollowerView: &observe.FollowerView{Lag: 0}},
					{Name: "orders-3", State: "not_syncing", Lag: 40, LagKnown: true},
				},
				TotalLag: 40, MaxLag: 40, Syncing: 2, Stopped: 1,
			}}}
	doc := f.page(t, "/")
	s := section(t, doc, "orders")
	facts := map[string]string{}
	for _, div := range s.All(func(n *markup.Node) bool { return n.Name == "div" && n.Parent.Name == "dl" }) {
		facts[div.ByName("dt")[0].Text()] = div.Attrs["class"] + ": " + div.ByName("dd")[0].Text()
	}
	for name, want := range map[string]string{
		"Leader":   "bad: UNREACHABLE connection_refused: dial tcp 10.0.0.1:9200: connection refused",
		"Follower": "ok: ANSWERS answered in 3ms",
		"Witness":  `bad: DISCONNECTED the follower lost the leader (remote "leader")`,
		"Lag":      "bad: UNKNOWN for 1 of 3 indices; the other 2: 40 operations in total (largest 40); 2 syncing, 1 not syncing",
	} {
		if facts[name] != want {
			t.Errorf("%s:\n got %q\nwant %q", name, facts[name], want)
		}
	}
	var rows []string
	for _, tr := range s.ByName("tbody")[0].ByName("tr") {
		var cells []string
		for _, td := range tr.ByName("td") {
			cells = append(cells, td.Text())
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	wantRows := []string{
		"orders-2 the follower's own view: 0 (not a measurement) | unknown | syncing",
		"orders-3 | 40 ops | not syncing",
		"orders-1 | 0 ops | syncing",
	}
	if strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("lag table:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}
	problems := s.All(func(n *markup.Node) bool { return n.HasClass("problems") })
	if len(problems) != 1 || !strings.Contains(problems[0].Text(), "leader unreachable: dial tcp") {
		t.Errorf("problems: %v", problems)
	}
	items := s.ByName("ol")[0].Children
	if len(items) != historyShown {
		t.Fatalf("timeline has %d entries, want %d", len(items), historyShown)
	}
	if got := items[0].Text(); !strings.Contains(got, "suspect → leader_down leader_down transition 24") ||
		!strings.Contains(got, hist[24].At.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("newest entry: %q", got)
	}
	if got := items[historyShown-1].Text(); !strings.Contains(got, "transition 05") {
		t.Errorf("oldest entry shown: %q", got)
	}
}

// Without a token configured: no forms, not even when asked for, a line
// saying how to enable them, and the page's commands are refused (403).
func TestStatusPageReadOnlyWithoutToken(t *testing.T) {
	f := newFixture(t, false, pairSpec{name: "orders", state: awaitingState(time.Now(), "req-ro")})
	for _, path := range []string{"/", "/?act=orders"} {
		doc := f.page(t, path)
		if n := len(doc.ByName("form")) + len(doc.ByName("input")) + len(doc.ByName("button")); n != 0 {
			t.Errorf("%s: %d form elements without a token", path, n)
		}
		if ro := doc.ID("read-only"); ro == nil || !strings.Contains(ro.Text(), "set api.token_file in the config") {
			t.Errorf("%s: no read-only line", path)
		}
		if len(doc.All(func(n *markup.Node) bool { return n.HasClass("act-link") })) != 0 {
			t.Errorf("%s: a link to forms without a token", path)
		}
	}
	resp, body := f.post(t, "/ui/pairs/orders/approve", url.Values{"token": {"anything"}, "id": {"req-ro"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(parse(t, resp, body).ID("error").Text(), "set api.token_file") {
		t.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	if ph := f.phase("orders"); ph != policy.AwaitingApproval {
		t.Errorf("phase %s after a refused approve", ph)
	}
}

// With a token configured: the live view links to the forms of the
// commands that apply now (as policy's commands answer), ?act opens them:
// a password field, the pending request's id, pause's duration; never
// promote; no auto-reload while they are open.
func TestStatusPageFormsWithToken(t *testing.T) {
	f := newFixture(t, true,
		pairSpec{name: "orders", state: awaitingState(time.Now(), "req-form")},
		pairSpec{name: "logs", state: healthyState(time.Now())},
		pairSpec{name: "dry", mode: config.ModeDryRun, state: policy.State{Phase: policy.LeaderDown, Since: time.Now()}},
		pairSpec{name: "done", state: policy.State{Phase: policy.Promoted, Since: time.Now()}},
	)
	doc := f.page(t, "/")
	if len(doc.ByName("form")) != 0 || doc.ID("read-only") != nil {
		t.Error("the live view has forms or says it is read-only")
	}
	links := map[string]string{}
	for _, a := range doc.All(func(n *markup.Node) bool { return n.HasClass("act-link") }) {
		links[a.Attrs["href"]] = a.Text()
	}
	for href, want := range map[string]string{
		"/?act=orders#actions-orders": "approve, deny, pause from this page →",
		"/?act=logs#actions-logs":     "pause from this page →",
		"/?act=dry#actions-dry":       "pause from this page →", // dry-run: never approve
	} {
		if links[href] != want {
			t.Errorf("link %s: %q, want %q (links %v)", href, links[href], want, links)
		}
	}
	if !strings.Contains(section(t, doc, "done").Text(), "No command of the page applies to this pair now.") {
		t.Error("promoted pair: no word that nothing applies")
	}

	doc = f.page(t, "/?act=orders")
	if m := doc.All(func(n *markup.Node) bool { return n.Name == "meta" && n.Attrs["http-equiv"] == "refresh" }); len(m) != 0 {
		t.Error("the page reloads itself while forms are open")
	}
	forms := map[string]*markup.Node{}
	for _, fm := range section(t, doc, "orders").ByName("form") {
		if fm.Attrs["method"] != "post" || fm.Attrs["action"] != "/ui/pairs/orders/"+fm.Attrs["data-action"] {
			t.Errorf("form %v", fm.Attrs)
		}
		forms[fm.Attrs["data-action"]] = fm
		inputs := map[string]*markup.Node{}
		for _, in := range fm.ByName("input") {
			inputs[in.Attrs["name"]] = in
		}
		if tok := inputs["token"]; tok == nil || tok.Attrs["type"] != "password" || tok.Attrs["value"] != "" {
			t.Errorf("%s: token field %v", fm.Attrs["data-action"], tok)
		}
		if inputs["reason"] == nil || inputs["by"] == nil {
			t.Errorf("%s: no reason or name field", fm.Attrs["data-action"])
		}
		if id := inputs["id"]; (fm.Attrs["data-action"] == "approve") != (id != nil) || id != nil && (id.Attrs["type"] != "hidden" || id.Attrs["value"] != "req-form") {
			t.Errorf("%s: id field %v", fm.Attrs["data-action"], id)
		}
		if d := inputs["for"]; (fm.Attrs["data-action"] == "pause") != (d != nil) || d != nil && d.Attrs["value"] != "1h" {
			t.Errorf("%s: duration field %v", fm.Attrs["data-action"], d)
		}
	}
	if len(forms) != 3 || forms["approve"] == nil || forms["deny"] == nil || forms["pause"] == nil {
		t.Errorf("forms %v, want approve, deny, pause", forms)
	}
	if len(section(t, doc, "logs").ByName("form")) != 0 {
		t.Error("forms of another pair are open")
	}
	if strings.Contains(f.get2(t, "/?act=orders"), testToken) {
		t.Error("the page shows the token")
	}
}

func (f *fixture) get2(t *testing.T, path string) string {
	t.Helper()
	_, body := f.get(t, path)
	return body
}

// A wrong or missing token: 401, the page again with the reason, and
// nothing changes - not the state, not the journal.
func TestPageActionWrongToken(t *testing.T) {
	f := newFixture(t, true, pairSpec{name: "orders", state: awaitingState(time.Now(), "req-tok")})
	before := len(f.d.Watcher("orders").History(0))
	for _, tok := range []string{"", "not-the-token-4711", testToken + "x"} {
		form := url.Values{"id": {"req-tok"}, "reason": {"go"}}
		if tok != "" {
			form.Set("token", tok)
		}
		resp, body := f.post(t, "/ui/pairs/orders/approve", form)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token %q: HTTP %d", tok, resp.StatusCode)
		}
		doc := parse(t, resp, body)
		if e := doc.ID("error"); e == nil || !strings.Contains(e.Text(), "missing or wrong API token") {
			t.Errorf("token %q: no reason shown", tok)
		}
		if tok != "" && strings.Contains(body, tok) {
			t.Errorf("the page echoes the token posted")
		}
		if len(section(t, doc, "orders").ByName("form")) == 0 {
			t.Error("the page again without the forms to retry")
		}
	}
	rec, err := f.j.Load("orders")
	if err != nil {
		t.Fatal(err)
	}
	if ph := f.phase("orders"); ph != policy.AwaitingApproval || rec.State.Phase != policy.AwaitingApproval || len(f.d.Watcher("orders").History(0)) != before {
		t.Errorf("phase %s, journaled %s after refused approvals", ph, rec.State.Phase)
	}
}

// The right token approves the pending request through the same command
// path as the JSON API: 303 to the live view, which says what became of it.
func TestPageActionApproves(t *testing.T) {
	f := newFixture(t, true, pairSpec{name: "orders", state: awaitingState(time.Now(), "req-ok")})
	resp, body := f.post(t, "/ui/pairs/orders/approve", url.Values{"token": {testToken}, "id": {"req-ok"}, "reason": {"leader is gone"}, "by": {"alice"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if loc != "/?done=approve&pair=orders#pair-orders" {
		t.Errorf("Location %q", loc)
	}
	if ph := f.phase("orders"); ph != policy.Promoting {
		t.Fatalf("phase %s after approve", ph)
	}
	rec, err := f.j.Load("orders")
	if err != nil {
		t.Fatal(err)
	}
	last := rec.History[len(rec.History)-1]
	if rec.State.Phase != policy.Promoting || rec.State.Approval == nil || rec.State.Approval.By != "alice" ||
		strings.Join(last.EventNames(), ",") != "approval_granted,promotion_started" || !strings.Contains(strings.Join(last.Reasons, " "), "leader is gone") {
		t.Errorf("journal: %+v, last transition %+v", rec.State, last)
	}
	doc := f.page(t, strings.SplitN(loc, "#", 2)[0])
	if n := doc.ID("notice"); n == nil || n.Text() != "approve of pair orders applied: it is now promoting (its timeline below shows the command)." {
		t.Errorf("notice: %v", n)
	}
	if items := section(t, doc, "orders").ByName("ol")[0].Children; !strings.Contains(items[0].Text(), "awaiting_approval → promoting approval_granted promotion_started") {
		t.Errorf("timeline: %q", items[0].Text())
	}
	// A notice names only a known action of a known pair.
	for _, q := range []string{"/?done=promote&pair=orders", "/?done=approve&pair=nope", "/?done=<b>x</b>&pair=orders"} {
		if f.page(t, q).ID("notice") != nil {
			t.Errorf("%s: a notice", q)
		}
	}
}

// Bad forms: refused with a 4xx and the reason on the page; nothing changes.
func TestPageActionBadForms(t *testing.T) {
	f := newFixture(t, true, pairSpec{name: "orders", state: awaitingState(time.Now(), "req-bad")})
	ok := url.Values{"token": {testToken}}
	with := func(kv ...string) url.Values {
		v := url.Values{"token": {testToken}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		path string
		form url.Values
		code int
		why  string
	}{
		{"/ui/pairs/orders/explode", ok, 404, "unknown action explode (the page offers approve, deny, pause, resume)"},
		{"/ui/pairs/orders/promote", ok, 404, "the status page does not promote"},
		{"/ui/pairs/orders/pause", with("for", "forever"), 400, `"for" must be a duration between 1s and 168h0m0s`},
		{"/ui/pairs/orders/pause", with("for", "200h"), 400, `"for" must be a duration`},
		{"/ui/pairs/orders/deny", with("colour", "red"), 400, `unknown form field "colour" for deny`},
		{"/ui/pairs/orders/deny", with("id", "req-bad"), 400, `unknown form field "id" for deny`},
		{"/ui/pairs/nope/deny", ok, 404, "unknown pair nope"},
		{"/ui/pairs/orders/approve", with("id", "req-old"), 409, "stale approval"},
		{"/ui/pairs/orders/approve", ok, 409, "the approval names no id, but the pending request is req-bad"},
		{"/ui/pairs/orders/resume", ok, 409, "cannot resume a pair that is awaiting_approval"},
	}
	for _, c := range cases {
		resp, body := f.post(t, c.path, c.form)
		if resp.StatusCode != c.code {
			t.Errorf("%s %v: HTTP %d, want %d", c.path, c.form, resp.StatusCode, c.code)
			continue
		}
		e := parse(t, resp, body).ID("error")
		if e == nil || !strings.Contains(e.Text(), c.why) {
			t.Errorf("%s %v: error %v, want %q", c.path, c.form, e, c.why)
		}
	}
	// Not a form: 415.
	resp, err := noRedirect.Post(f.srv.URL+"/ui/pairs/orders/deny", "application/json", strings.NewReader(`{"token":"`+testToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("JSON to a form: HTTP %d", resp.StatusCode)
	}
	if ph := f.phase("orders"); ph != policy.AwaitingApproval {
		t.Errorf("phase %s after refused commands", ph)
	}
	// A good pause, then resume, through the page.
	if resp, body := f.post(t, "/ui/pairs/orders/pause", with("for", "30m", "reason", "maintenance")); resp.StatusCode != http.StatusSeeOther || f.phase("orders") != policy.Paused {
		t.Fatalf("pause: HTTP %d, phase %s: %s", resp.StatusCode, f.phase("orders"), body)
	}
	if !strings.Contains(strings.Join(f.d.Watcher("orders").State().Reasons, " "), "maintenance") {
		t.Errorf("pause reasons: %v", f.d.Watcher("orders").State().Reasons)
	}
	if resp, _ := f.post(t, "/ui/pairs/orders/resume", ok); resp.StatusCode != http.StatusSeeOther || f.phase("orders") != policy.Healthy {
		t.Fatalf("resume: HTTP %d, phase %s", resp.StatusCode, f.phase("orders"))
	}
}

// Everything shown is escaped: a reason carrying markup stays text.
func TestStatusPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script><b onclick="x">"'&`
	st := healthyState(time.Now())
	st.Reasons = []string{evil}
	f := newFixture(t, true, pairSpec{name: "orders", state: st})
	doc := f.page(t, "/?act=orders")
	if n := doc.All(func(n *markup.Node) bool { return n.Name == "script" || n.Attrs["onclick"] != "" }); len(n) != 0 {
		t.Errorf("markup from a reason became elements: %v", n)
	}
	if !strings.Contains(section(t, doc, "orders").Text(), evil) {
		t.Error("the reason is not shown as text")
	}
}

// The page's routes leave the others alone: unknown paths are 404, the
// JSON API answers JSON through the same command path.
func TestStatusPageRoutes(t *testing.T) {
	f := newFixture(t, true, pairSpec{name: "orders", state: healthyState(time.Now())})
	for path, want := range map[string]int{"/nope": 404, "/index.html": 404, "/ui/pairs/orders/pause": 405, "/-/healthy": 200, "/-/ready": 200, "/metrics": 200} {
		if resp, _ := f.get(t, path); resp.StatusCode != want {
			t.Errorf("GET %s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := f.post(t, "/", url.Values{}); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: HTTP %d", resp.StatusCode)
	}
	resp, body := f.get(t, "/api/v1/status")
	var st report.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 || len(st.Pairs) != 1 || st.Pairs[0].Decision.State != "healthy" {
		t.Fatalf("status JSON: %v %s", err, body)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/pairs/orders/pause", strings.NewReader(`{"for":"2h","reason":"r"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ar actionResponse
	err = json.NewDecoder(resp.Body).Decode(&ar)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || ar.State != "paused" || ar.Action != "pause" || ar.Error != "" {
		t.Fatalf("JSON pause: HTTP %d %+v %v", resp.StatusCode, ar, err)
	}
	req, _ = http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/pairs/orders/resume", nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]string
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 401 || e["error"] != "missing or wrong bearer token" || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("JSON with a wrong token: HTTP %d %v %v", resp.StatusCode, e, err)
	}
}

func TestRel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 200 * time.Second: "3m 20s", 12*time.Minute + 30*time.Second: "12m",
		3*time.Hour + 5*time.Minute: "3h 5m", 51 * time.Hour: "2d 3h",
	} {
		if got := rel(d); got != want {
			t.Errorf("rel(%s) = %s, want %s", d, got, want)
		}
	}
}

// The lag line says in a word whether the lag is zero, behind or unknown
// (all or some indices), and why when replication is unreadable.
func TestLagFact(t *testing.T) {
	ix := func(name string, lag int64, known bool) observe.Index {
		return observe.Index{Name: name, State: observe.StateSyncing, Lag: lag, LagKnown: known}
	}
	for _, c := range []struct {
		rep  observe.Replication
		want string
	}{
		{observe.Replication{Indices: []observe.Index{ix("a", 0, true), ix("b", 0, true)}, Syncing: 2, LagComplete: true},
			"ok ZERO on all 2 indices, measured on both clusters; 2 syncing, 0 not syncing"},
		{observe.Replication{Indices: []observe.Index{ix("a", 100, true), ix("b", 20, true)}, TotalLag: 120, MaxLag: 100, Syncing: 2, LagComplete: true},
			"warn BEHIND 120 operations in total over 2 indices (largest 100), measured on both clusters; 2 syncing, 0 not syncing"},
		{observe.Replication{Indices: []observe.Index{ix("a", 0, false), ix("b", 0, false)}, Syncing: 2},
			"bad UNKNOWN for all 2 indices; 2 syncing, 0 not syncing"},
		{observe.Replication{Failure: &observe.Failure{Class: observe.ClassPluginMissing, Message: "no handler found for uri"}},
			"bad UNKNOWN replication state unreadable: plugin_missing: no handler found for uri"},
		{observe.Replication{}, "warn NO INDEX no follower index in scope"},
	} {
		o := &observe.Observation{Leader: observe.Leader{Reachable: true, Health: "green"},
			Follower: observe.Follower{Reachable: true, Remote: observe.Remote{Known: true, Connected: true}, Replication: c.rep}}
		fs := facts(o)
		last := fs[len(fs)-1]
		if got := last.Tone + " " + last.Word + " " + last.Detail; last.Name != "Lag" || got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", last.Name, got, c.want)
		}
	}
	// A message that names its class is not prefixed with it again.
	if got := failure(&observe.Failure{Class: observe.ClassConnRefused, Message: "cluster health: connection_refused: connection refused"}); got != "cluster health: connection_refused: connection refused" {
		t.Errorf("failure: %q", got)
	}
}

// An Aiven pair's page shows what the Aiven API reports, in one line of
// its facts: the leader service's state as the word, both services, the
// integration and the reading's age; a failing API or a standalone
// follower is bad, a node recycle a warning.
func TestStatusPageAivenFact(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	svc := func(name, state string, running int, others ...observe.AivenNode) *observe.AivenService {
		return &observe.AivenService{Name: name, State: state, NodesTotal: running + len(others), NodesRunning: running, NotRunning: others}
	}
	ccr := &observe.AivenIntegration{Found: true, ID: "ccr-1", Active: true, Status: "running"}
	for _, c := range []struct {
		name string
		a    *observe.Aiven
		want string
	}{
		{"nominal", &observe.Aiven{ReadAt: now.Add(-10 * time.Second), Interval: 15 * time.Second, Leader: svc("os-prod", "RUNNING", 3), Follower: svc("os-dr", "RUNNING", 3), Integration: ccr},
			"ok: RUNNING os-prod RUNNING, 3/3 nodes running; os-dr RUNNING, 3/3 nodes running; CCR integration running (read 10s earlier)"},
		{"recycle", &observe.Aiven{ReadAt: now, Interval: 15 * time.Second, Leader: svc("os-prod", "RUNNING", 3),
			Follower: svc("os-dr", "REBALANCING", 2, observe.AivenNode{Name: "os-dr-3", State: "leaving"}), Integration: ccr},
			"warn: RUNNING os-prod RUNNING, 3/3 nodes running; os-dr REBALANCING, 2/3 nodes running (os-dr-3 leaving); CCR integration running (read in this probe)"},
		{"standalone", &observe.Aiven{ReadAt: now, Interval: 15 * time.Second, Leader: svc("os-prod", "RUNNING", 3), Follower: svc("os-dr", "RUNNING", 3), Integration: &observe.AivenIntegration{}},
			"bad: RUNNING os-prod RUNNING, 3/3 nodes running; os-dr RUNNING, 3/3 nodes running; no CCR integration (read in this probe)"},
		{"failing", &observe.Aiven{ReadAt: now, Interval: 15 * time.Second, Failure: &observe.Failure{Class: observe.ClassTimeout, Message: "aiven: get service acme/os-prod: no answer from the Aiven API before the deadline"}},
			"bad: API FAILING API unreachable (timeout) (read in this probe)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, false, pairSpec{name: "orders", state: healthyState(now.Add(-time.Hour))})
			f.d.obs["orders"] = &observe.Observation{Pair: "orders", Time: now, Aiven: c.a,
				Leader: observe.Leader{Reachable: true, Health: "green"}, Follower: observe.Follower{Reachable: true, Remote: observe.Remote{Alias: "leader", Known: true, Connected: true}}}
			s := section(t, f.page(t, "/"), "orders")
			got := ""
			for _, div := range s.All(func(n *markup.Node) bool { return n.Name == "div" && n.Parent.Name == "dl" }) {
				if div.ByName("dt")[0].Text() == "Aiven" {
					got = div.Attrs["class"] + ": " + div.ByName("dd")[0].Text()
				}
			}
			if got != c.want {
				t.Fatalf("Aiven fact:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
