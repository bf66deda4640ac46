package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/cli"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// The Aiven side of these tests is fakeaiven, whose answers follow Aiven's
// API reference and go-client-codegen v0.237.0 (its package comment cites
// each shape; docs/aiven.md "REST shapes"). The OpenSearch side
// is osIndices below: the index-settings answers in the shape the real lab
// captured (fakeos testdata/lab/follower_settings.json and SOURCES.md:
// {"<index>": {"settings": {<flat settings>}}}), and fakeos.Health.

const (
	// followToken is recognisable: it must appear in no output.
	followToken = "tok-FOLLOW-9c1e77d0aa41"
	// followOSPassword is the clusters' password, likewise.
	followOSPassword = "os-pw-FOLLOW-31f0"
)

// osIndices is a fake OpenSearch cluster holding named indices, each plain
// ("") or a follower index ("<alias>:<leader index>"). It answers
// GET _cluster/health and GET {targets}/_settings/{keys} for names,
// patterns and exclusions, and records every request.
type osIndices struct {
	srv      *httptest.Server
	mu       sync.Mutex
	indices  map[string]string
	requests []string
}

func newOSIndices(t *testing.T, indices map[string]string) *osIndices {
	t.Helper()
	o := &osIndices{indices: indices}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *osIndices) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && r.URL.Path == "/_cluster/health" {
		fmt.Fprint(w, fakeos.Health("green"))
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) != 3 || parts[1] != "_settings" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"no handler found for uri [%s] and method [%s]"}`, r.URL.Path, r.Method)
		return
	}
	out := map[string]any{}
	for name, leader := range o.indices {
		if !fakeos.MatchTarget(parts[0], name) {
			continue
		}
		settings := map[string]any{"index.uuid": "u-" + name, "index.number_of_shards": "1"}
		if leader != "" {
			settings["index.plugins.replication.follower.leader_index"] = leader
		}
		kept := map[string]any{}
		for _, key := range strings.Split(parts[2], ",") {
			if v, ok := settings[key]; ok {
				kept[key] = v
			}
		}
		out[name] = map[string]any{"settings": kept}
	}
	_ = json.NewEncoder(w).Encode(out)
}

// writes are the requests that were not reads.
func (o *osIndices) writes() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var w []string
	for _, r := range o.requests {
		if !strings.HasPrefix(r, "GET ") {
			w = append(w, r)
		}
	}
	return w
}

// followWorld is a promoted Aiven pair: os-prod (the old leader) and os-dr
// (promoted), with no integration between them, and their clusters: the
// promoted side holds the indices in scope, the old leader none of them.
type followWorld struct {
	aiven    *fakeaiven.Server
	old      *osIndices // the old leader's OpenSearch (the pair's leader)
	promoted *osIndices // the promoted side's (the pair's follower)
	cfg      string
}

func newFollowWorld(t *testing.T, oldIndices map[string]string) *followWorld {
	t.Helper()
	restore := cli.SetFollowTuning(10*time.Millisecond, 10*time.Millisecond)
	t.Cleanup(restore)
	w := &followWorld{aiven: fakeaiven.New(t, followToken)}
	for _, s := range []string{"os-prod", "os-dr"} {
		w.aiven.AddService("acme", fakeaiven.Service{Name: s, Version: "2.19.1", Password: "avnadmin-" + followOSPassword})
	}
	if oldIndices == nil {
		oldIndices = map[string]string{"unrelated": ""}
	}
	w.old = newOSIndices(t, oldIndices)
	w.promoted = newOSIndices(t, map[string]string{
		"orders-1": "", "orders-2": "", "logs-1": "", ".kibana_1": "", ".tasks": "", "misc": "",
	})
	t.Setenv("FOLLOW_AIVEN_TOKEN", followToken)
	t.Setenv("FOLLOW_OS_PASSWORD", followOSPassword)
	w.cfg = filepath.Join(t.TempDir(), "drwatch.yml")
	cfg := fmt.Sprintf(`listen_address: "127.0.0.1:9464"
pairs:
  - name: orders
    leader: {url: %s, username: avnadmin, password_env: FOLLOW_OS_PASSWORD}
    follower: {url: %s, username: avnadmin, password_env: FOLLOW_OS_PASSWORD, leader_alias: acme_os-prod}
    indices: ["orders-*", "logs-*", ".kib*", "*s"]
    aiven: {project: acme, leader_service: os-prod, follower_service: os-dr, token_env: FOLLOW_AIVEN_TOKEN, api_url: %s}
  - name: plain
    leader: {url: https://a.example.com:9200}
    follower: {url: https://b.example.com:9200, leader_alias: leader}
`, w.old.srv.URL, w.promoted.srv.URL, w.aiven.URL)
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *followWorld) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.MainIO(append([]string{"aiven", "follow", "--config", w.cfg, "--pair", "orders"}, args...), strings.NewReader(""), &out, &errb)
	for _, secret := range []string{followToken, followOSPassword} {
		if strings.Contains(out.String()+errb.String(), secret) {
			t.Errorf("a secret (%s...) shows in the output:\n%s\n%s", secret[:6], out.String(), errb.String())
		}
	}
	if wr := w.old.writes(); len(wr) > 0 {
		t.Errorf("the old leader's OpenSearch got writes: %v", wr)
	}
	if wr := w.promoted.writes(); len(wr) > 0 {
		t.Errorf("the promoted OpenSearch got writes: %v", wr)
	}
	return code, out.String(), errb.String()
}

// posts counts the create requests the fake Aiven API received.
func (w *followWorld) posts() int {
	n := 0
	for _, r := range w.aiven.Requests() {
		if r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

func (w *followWorld) ccr() []fakeaiven.Integration {
	var out []fakeaiven.Integration
	for _, in := range w.aiven.Integrations("acme") {
		if in.Type == fakeaiven.IntegrationTypeCCR {
			out = append(out, in)
		}
	}
	return out
}

// followJSON is the part of --json's document the tests read.
type followJSON struct {
	Pair               string `json:"pair"`
	Promoted           string `json:"promoted_service"`
	OldLeader          string `json:"old_leader_service"`
	LeaderAlias        string `json:"leader_alias"`
	Outcome            string `json:"outcome"`
	Error              string `json:"error"`
	Indices            []string
	SkippedIndices     []string `json:"skipped_indices"`
	StaleIndices       []string `json:"stale_indices"`
	ReplicatingIndices []string `json:"replicating_indices"`
	Checks             []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	Integration *struct {
		ID            string `json:"id"`
		Type          string `json:"type"`
		SourceService string `json:"source_service"`
		DestService   string `json:"dest_service"`
		Active        bool   `json:"active"`
	} `json:"integration"`
	Next *struct {
		LeaderAlias string   `json:"leader_alias"`
		RunOn       string   `json:"run_on"`
		Autofollow  []string `json:"autofollow"`
		Start       []string `json:"start"`
		PairName    string   `json:"pair_name"`
		Config      string   `json:"config"`
		Reload      string   `json:"reload"`
	} `json:"next_steps"`
}

func parseFollow(t *testing.T, out string) followJSON {
	t.Helper()
	var r followJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	return r
}

func TestAivenFollowCreatesIntegration(t *testing.T) {
	w := newFollowWorld(t, nil)
	code, out, errOut := w.run(t, "--yes")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	ints := w.ccr()
	if len(ints) != 1 {
		t.Fatalf("CCR integrations in the fake = %+v, want one", ints)
	}
	if in := ints[0]; in.SourceService != "os-dr" || in.DestService != "os-prod" || !in.Active {
		t.Errorf("integration = %+v, want os-dr -> os-prod, active", in)
	}
	if w.posts() != 1 {
		t.Errorf("%d creates, want 1", w.posts())
	}
	for _, want := range []string{
		"ok    promoted service os-dr is RUNNING",
		"ok    old leader service os-prod is RUNNING (the old leader is back)",
		"integration " + ints[0].ID + " created",
		"remote alias acme_os-dr",
		`-X POST '` + w.old.srv.URL + `/_plugins/_replication/_autofollow'`,
		`{"leader_alias":"acme_os-dr","leader_index":"orders-1"}`,
		`-u "$OS_USER:$OS_PASSWORD"`,
		"replace pair orders in the config with os-dr-to-os-prod below",
		"leader_service: os-dr",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}
}

func TestAivenFollowJSON(t *testing.T) {
	w := newFollowWorld(t, nil)
	code, out, errOut := w.run(t, "--yes", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	r := parseFollow(t, out)
	if r.Outcome != "created" || r.Pair != "orders" || r.Promoted != "os-dr" || r.OldLeader != "os-prod" || r.LeaderAlias != "acme_os-dr" {
		t.Errorf("report = %+v", r)
	}
	if r.Integration == nil || r.Integration.SourceService != "os-dr" || r.Integration.DestService != "os-prod" ||
		r.Integration.Type != "opensearch_cross_cluster_replication" || !r.Integration.Active {
		t.Errorf("integration = %+v", r.Integration)
	}
	// .tasks matches only "*s": left out; .kibana_1 matches ".kib*": in.
	if !slices.Equal(r.Indices, []string{".kibana_1", "logs-1", "orders-1", "orders-2"}) || !slices.Equal(r.SkippedIndices, []string{".tasks"}) {
		t.Errorf("indices = %v, skipped %v", r.Indices, r.SkippedIndices)
	}
	if len(r.StaleIndices) != 0 {
		t.Errorf("stale = %v", r.StaleIndices)
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check failed: %+v", c)
		}
	}
	n := r.Next
	if n == nil {
		t.Fatal("no next_steps")
	}
	if n.LeaderAlias != "acme_os-dr" || n.RunOn != w.old.srv.URL || n.PairName != "os-dr-to-os-prod" {
		t.Errorf("next = %+v", n)
	}
	// One rule per pattern, a _start per promoted index in scope.
	if len(n.Autofollow) != 4 || len(n.Start) != 4 {
		t.Errorf("autofollow %d, start %d:\n%s\n%s", len(n.Autofollow), len(n.Start), strings.Join(n.Autofollow, "\n"), strings.Join(n.Start, "\n"))
	}
	for _, c := range append(slices.Clone(n.Autofollow), n.Start...) {
		if !strings.HasPrefix(c, `curl -sS -u "$OS_USER:$OS_PASSWORD" -X `) || !strings.Contains(c, w.old.srv.URL) {
			t.Errorf("command %q: not a credential-free curl to the old leader", c)
		}
	}
	// The body of each command is JSON.
	body := n.Start[0][strings.LastIndex(n.Start[0], " -d '")+5 : len(n.Start[0])-1]
	var start map[string]string
	if err := json.Unmarshal([]byte(body), &start); err != nil || start["leader_alias"] != "acme_os-dr" || start["leader_index"] != ".kibana_1" {
		t.Errorf("start body %q: %v %v", body, start, err)
	}

	// The reversed pair is a valid config entry with the sides swapped.
	cfg, err := config.Parse([]byte("pairs:\n" + n.Config))
	if err != nil {
		t.Fatalf("the reversed pair is not a valid config: %v\n%s", err, n.Config)
	}
	p := cfg.Pairs[0]
	if p.Name != "os-dr-to-os-prod" || p.Leader.URL != w.promoted.srv.URL || p.Follower.URL != w.old.srv.URL ||
		p.Follower.LeaderAlias != "acme_os-dr" || p.Aiven == nil || p.Aiven.LeaderService != "os-dr" ||
		p.Aiven.FollowerService != "os-prod" || p.Aiven.Project != "acme" || p.Aiven.TokenEnv != "FOLLOW_AIVEN_TOKEN" ||
		p.Leader.PasswordEnv != "FOLLOW_OS_PASSWORD" || !slices.Equal(p.Indices, []string{"orders-*", "logs-*", ".kib*", "*s"}) {
		t.Errorf("reversed pair = %+v, aiven %+v", p, p.Aiven)
	}
	if !strings.Contains(n.Reload, "http://127.0.0.1:9464/-/reload") {
		t.Errorf("reload = %q", n.Reload)
	}
}

func TestAivenFollowRefusesUnpromotedPair(t *testing.T) {
	w := newFollowWorld(t, nil)
	id := w.aiven.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	code, out, errOut := w.run(t, "--yes")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, cli.ExitFailure, out, errOut)
	}
	if !strings.Contains(out, "FAIL  os-dr is promoted") || !strings.Contains(out, "not promoted yet: the pair's integration "+id+" (os-prod -> os-dr) still exists: refusing") {
		t.Errorf("output does not say why:\n%s", out)
	}
	if !strings.Contains(errOut, "refused") || !strings.Contains(errOut, "nothing was changed") {
		t.Errorf("stderr = %q", errOut)
	}
	if w.posts() != 0 {
		t.Errorf("%d creates while the pair is not promoted", w.posts())
	}
	if ints := w.ccr(); len(ints) != 1 || ints[0].ID != id {
		t.Errorf("integrations changed: %+v", ints)
	}
}

func TestAivenFollowRefusesOldLeaderPoweredOff(t *testing.T) {
	w := newFollowWorld(t, nil)
	w.aiven.SetState("acme", "os-prod", "POWEROFF")
	code, out, errOut := w.run(t, "--yes", "--json")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	r := parseFollow(t, out)
	if r.Outcome != "refused" || r.Integration != nil || r.Next != nil {
		t.Errorf("report = %+v", r)
	}
	found := false
	for _, c := range r.Checks {
		if c.Name == "old leader service os-prod is RUNNING (the old leader is back)" {
			found = true
			if c.OK || !strings.Contains(c.Detail, "POWEROFF") {
				t.Errorf("check = %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("no check of the old leader's state: %+v", r.Checks)
	}
	if w.posts() != 0 {
		t.Errorf("%d creates with the old leader powered off", w.posts())
	}
}

func TestAivenFollowAlreadyFollowing(t *testing.T) {
	// The old leader replicates two of the promoted indices already.
	w := newFollowWorld(t, map[string]string{"orders-1": "acme_os-dr:orders-1", "logs-1": "acme_os-dr:logs-1"})
	id := w.aiven.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-dr", DestService: "os-prod"})
	code, out, errOut := w.run(t, "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	r := parseFollow(t, out)
	if r.Outcome != "already_following" || r.Integration == nil || r.Integration.ID != id {
		t.Errorf("report = %+v", r)
	}
	if len(r.StaleIndices) != 0 || !slices.Equal(r.ReplicatingIndices, []string{"logs-1", "orders-1"}) {
		t.Errorf("stale %v, replicating %v", r.StaleIndices, r.ReplicatingIndices)
	}
	if r.Next == nil || len(r.Next.Start) != 2 || !strings.Contains(r.Next.Start[0], "/.kibana_1/_start") || !strings.Contains(r.Next.Start[1], "/orders-2/_start") {
		t.Errorf("next steps: %+v", r.Next)
	}
	if w.posts() != 0 {
		t.Errorf("%d creates while already following", w.posts())
	}

	code, text, _ := w.run(t)
	if code != cli.ExitOK || !strings.Contains(text, "os-prod already follows os-dr (integration "+id+")") {
		t.Errorf("exit %d, text:\n%s", code, text)
	}
}

func TestAivenFollowReportsStaleIndices(t *testing.T) {
	w := newFollowWorld(t, map[string]string{"orders-1": "", "logs-1": "", "orders-9": "", "unrelated": ""})
	code, out, errOut := w.run(t, "--yes", "--json")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	r := parseFollow(t, out)
	if r.Outcome != "refused" || !slices.Equal(r.StaleIndices, []string{"logs-1", "orders-1"}) {
		t.Errorf("outcome %s, stale %v", r.Outcome, r.StaleIndices)
	}
	var stale string
	for _, c := range r.Checks {
		if c.Name == "no stale copy of a promoted index on the old leader" {
			stale = c.Detail
			if c.OK {
				t.Errorf("stale check passed: %+v", c)
			}
		}
	}
	for _, want := range []string{"logs-1, orders-1", "would block replication's _start", "delete or rename them", "never deletes data"} {
		if !strings.Contains(stale, want) {
			t.Errorf("stale check's detail lacks %q: %q", want, stale)
		}
	}
	if w.posts() != 0 {
		t.Errorf("%d creates with stale indices", w.posts())
	}
	code, text, _ := w.run(t, "--yes")
	if code != cli.ExitFailure || !strings.Contains(text, "FAIL  no stale copy of a promoted index on the old leader: 2 of the 4 promoted indices") {
		t.Errorf("exit %d, text:\n%s", code, text)
	}
}

func TestAivenFollowToleratesFreshIntegration404(t *testing.T) {
	w := newFollowWorld(t, nil)
	w.aiven.HideAfterCreate(2)
	code, out, errOut := w.run(t, "--yes", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	r := parseFollow(t, out)
	if r.Outcome != "created" || r.Integration == nil || !r.Integration.Active {
		t.Fatalf("report = %+v", r)
	}
	// Two 404s, one read with active false, one active.
	gets := 0
	for _, q := range w.aiven.Requests() {
		if q.Method == http.MethodGet && q.Path == "/v1/project/acme/integration/"+r.Integration.ID {
			gets++
		}
	}
	if gets != 4 {
		t.Errorf("%d reads of the new integration, want 4 (404, 404, inactive, active)", gets)
	}
	if w.posts() != 1 {
		t.Errorf("%d creates, want 1", w.posts())
	}
}

// A create refused by Aiven (403) certainly created nothing, and says so.
func TestAivenFollowCreateRefused(t *testing.T) {
	w := newFollowWorld(t, nil)
	w.aiven.Fail(http.MethodPost, "/integration", http.StatusForbidden, 100, "")
	code, out, errOut := w.run(t, "--yes")
	if code != cli.ExitFailure || !strings.Contains(errOut, "nothing was created") || w.posts() != 1 {
		t.Fatalf("exit %d, %d creates\n%s\n%s", code, w.posts(), out, errOut)
	}
}

// A 503 after the retries: the create may have taken effect behind a
// failing proxy, so the command does not claim that nothing was created.
func TestAivenFollowCreateFails503(t *testing.T) {
	w := newFollowWorld(t, nil)
	w.aiven.Fail(http.MethodPost, "/integration", http.StatusServiceUnavailable, 100, "")
	code, out, errOut := w.run(t, "--yes")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"create opensearch_cross_cluster_replication integration os-dr -> os-prod in project acme",
		"the Aiven API is failing (server error or overload) (HTTP 503)", "[after 3 attempts]",
		"whether the integration was created is not known", "run this command again"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if w.posts() != 3 {
		t.Errorf("%d create attempts, want the client's bound of 3", w.posts())
	}
	if len(w.ccr()) != 0 {
		t.Errorf("integrations = %+v", w.ccr())
	}
}

func TestAivenFollowTimesOutWaitingForActive(t *testing.T) {
	w := newFollowWorld(t, nil)
	w.aiven.HideAfterCreate(1_000_000)
	code, out, errOut := w.run(t, "--yes", "--timeout", "300ms")
	if code != cli.ExitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"the integration is not active yet after", "still answers 404", "run this command again later"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if w.posts() != 1 {
		t.Errorf("%d creates, want 1", w.posts())
	}
}

func TestAivenFollowDryRunChangesNothing(t *testing.T) {
	w := newFollowWorld(t, nil)
	code, out, errOut := w.run(t, "--dry-run")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"plan:", "source os-dr (promoted, the new leader) -> destination os-prod", "dry-run: nothing was changed", "after the integration is created, the old leader has the remote alias acme_os-dr"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if w.posts() != 0 || len(w.ccr()) != 0 {
		t.Errorf("dry run created: %d posts, %+v", w.posts(), w.ccr())
	}
}

func TestAivenFollowNeedsTerminalOrYes(t *testing.T) {
	w := newFollowWorld(t, nil)
	code, out, errOut := w.run(t)
	if code != cli.ExitUsage || !strings.Contains(errOut, "not a terminal: pass --yes") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if w.posts() != 0 {
		t.Errorf("%d creates without confirmation", w.posts())
	}
}

func TestAivenFollowUsage(t *testing.T) {
	w := newFollowWorld(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"aiven", "follow", "--config", w.cfg}, "--pair NAME is required"},
		{[]string{"aiven", "follow", "--config", w.cfg, "--pair", "nope"}, `no pair "nope" in ` + w.cfg + " (pairs: orders, plain)"},
		{[]string{"aiven", "follow", "--config", w.cfg, "--pair", "plain"}, `pair "plain" in ` + w.cfg + " has no aiven block"},
		{[]string{"aiven", "follow", "--pair", "orders"}, "--config FILE is required"},
		{[]string{"aiven", "nonsense"}, "drwatch aiven follow --config FILE --pair NAME"},
	} {
		code, _, errOut := run(tc.args...)
		if code != cli.ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	if len(w.aiven.Requests()) != 0 {
		t.Errorf("usage errors called the API: %+v", w.aiven.Requests())
	}
}

// answerAfter is a terminal's answer typed after something changed: it
// runs change on the first read, then reads line.
type answerAfter struct {
	change func()
	r      io.Reader
}

func (a *answerAfter) Read(p []byte) (int, error) {
	if a.change != nil {
		a.change()
		a.change = nil
	}
	return a.r.Read(p)
}

// The checks run before the prompt, which can wait for hours: they are
// made again after the human's answer, and a change refuses the create.
func TestAivenFollowChecksAgainAfterThePrompt(t *testing.T) {
	defer cli.SetTerminal(true)()
	for _, poweroff := range []bool{false, true} {
		t.Run(fmt.Sprint("old leader powered off meanwhile=", poweroff), func(t *testing.T) {
			w := newFollowWorld(t, nil)
			change := func() {}
			code, posts := cli.ExitOK, 1
			if poweroff {
				change = func() { w.aiven.SetState("acme", "os-prod", "POWEROFF") }
				code, posts = cli.ExitFailure, 0
			}
			var out, errb bytes.Buffer
			in := &answerAfter{change: change, r: strings.NewReader("os-prod\n")}
			got := cli.MainIO([]string{"aiven", "follow", "--config", w.cfg, "--pair", "orders"}, in, &out, &errb)
			if got != code || w.posts() != posts {
				t.Fatalf("exit %d, %d creates; want %d, %d\n%s\n%s", got, w.posts(), code, posts, out.String(), errb.String())
			}
			if poweroff && !strings.Contains(errb.String(), "the Aiven checks changed while waiting for confirmation") {
				t.Fatalf("stderr: %s", errb.String())
			}
		})
	}
}
