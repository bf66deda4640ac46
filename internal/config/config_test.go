package config

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the loader's current output (then read every diff)")

// Fake secret values the tests put in the environment. The files under
// testdata/secrets hold the others.
const (
	envFollowerPassword = "fake-follower-password-env"
	envAivenToken       = "fake-aiven-token-env"
	envSlackURL         = "https://hooks.slack.example.com/services/TFAKE/BFAKE/fake-slack-secret"
	envOpsgenieKey      = "fake-opsgenie-key-env"
)

// setTestEnv sets the environment variables the testdata configs name, and
// makes sure DRWATCH_TEST_UNSET is not set. t.Setenv restores everything.
func setTestEnv(t *testing.T) {
	t.Helper()
	t.Setenv("DRWATCH_TEST_FOLLOWER_PASSWORD", envFollowerPassword)
	t.Setenv("DRWATCH_TEST_AIVEN_TOKEN", envAivenToken)
	t.Setenv("DRWATCH_TEST_SLACK_URL", envSlackURL)
	t.Setenv("DRWATCH_TEST_OPSGENIE_KEY", envOpsgenieKey)
	t.Setenv("DRWATCH_TEST_EMPTY", "  ")
	t.Setenv("DRWATCH_TEST_UNSET", "")
	if err := os.Unsetenv("DRWATCH_TEST_UNSET"); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", path, err)
	}
	return cfg
}

func readSecretFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "secrets", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestLoadFull(t *testing.T) {
	setTestEnv(t)
	cfg := mustLoad(t, "testdata/good/full.yaml")

	eq(t, "Path", cfg.Path, "testdata/good/full.yaml")
	eq(t, "ListenAddress", cfg.ListenAddress, "127.0.0.1:9464")
	eq(t, "StateDir", cfg.StateDir, "/var/lib/drwatch-test")
	eq(t, "API.Token", cfg.API.Token.Reveal(), readSecretFixture(t, "api-token"))
	eq(t, "HA", cfg.HA, HA{Enabled: true, LeaseIndex: DefaultLeaseIndex, TTL: Duration(20 * time.Second), Identity: "dr-site-a"})

	if len(cfg.Pairs) != 2 {
		t.Fatalf("got %d pairs, want 2", len(cfg.Pairs))
	}
	orders, ok := cfg.Pair("orders")
	if !ok {
		t.Fatal(`Pair("orders") not found`)
	}
	if _, ok := cfg.Pair("nope"); ok {
		t.Error(`Pair("nope") found`)
	}

	// Leader: one URL, password from a file, CA from a file.
	eq(t, "leader addresses", len(orders.Leader.Addresses), 1)
	eq(t, "leader address", orders.Leader.Addresses[0].String(), "https://leader.example.com:9200")
	eq(t, "leader username", orders.Leader.Username, "drwatch")
	eq(t, "leader password", orders.Leader.Password.Reveal(), readSecretFixture(t, "leader-password"))
	eq(t, "leader CA", string(orders.Leader.CACert), readSecretFixture(t, "ca.pem")+"\n")
	eq(t, "leader insecure", orders.Leader.InsecureSkipVerify, false)

	// Follower: several URLs, password from the environment.
	eq(t, "follower addresses", len(orders.Follower.Addresses), 2)
	eq(t, "follower address[1]", orders.Follower.Addresses[1].Host, "follower-2.example.com:9200")
	eq(t, "follower password", orders.Follower.Password.Reveal(), envFollowerPassword)
	eq(t, "follower leader_alias", orders.Follower.LeaderAlias, "leader")
	if !slices.Equal(orders.Indices, []string{"orders-*", "-orders-tmp-*"}) {
		t.Errorf("indices = %q", orders.Indices)
	}

	if orders.Aiven == nil {
		t.Fatal("orders.Aiven is nil")
	}
	eq(t, "aiven project", orders.Aiven.Project, "acme")
	eq(t, "aiven leader_service", orders.Aiven.LeaderService, "os-prod")
	eq(t, "aiven follower_service", orders.Aiven.FollowerService, "os-dr")
	eq(t, "aiven api_url", orders.Aiven.APIURL, "https://api.aiven.example.com")
	eq(t, "aiven token (env)", orders.Aiven.Token.Reveal(), envAivenToken)
	eq(t, "aiven probe_interval", orders.Aiven.ProbeInterval.D(), 30*time.Second)

	// Policy resolution: orders names "strict", billing_staging defaults to "default".
	eq(t, "orders policy", orders.Policy, "strict")
	// Both are Aiven pairs: their policies apply as written (promotion
	// goes through the Aiven API).
	if orders.Resolved != cfg.Policies["strict"] {
		t.Errorf("orders Resolved = %+v, want strict", orders.Resolved)
	}
	eq(t, "strict mode", cfg.Policies["strict"].Mode, ModeAuto)
	billing := &cfg.Pairs[1]
	eq(t, "billing policy", billing.Policy, "default")
	if billing.Resolved != cfg.Policies["default"] {
		t.Errorf("billing Resolved = %+v, want default", billing.Resolved)
	}
	eq(t, "default mode", cfg.Policies["default"].Mode, ModeSemiAuto)
	eq(t, "billing follower insecure", billing.Follower.InsecureSkipVerify, true)
	eq(t, "billing follower password set", billing.Follower.Password.IsSet(), false)
	eq(t, "billing aiven token (file)", billing.Aiven.Token.Reveal(), readSecretFixture(t, "aiven-token"))
	eq(t, "billing aiven probe_interval (default)", billing.Aiven.ProbeInterval, DefaultAivenProbeInterval)
	if !slices.Equal(billing.Indices, []string{"*"}) {
		t.Errorf("billing indices = %q, want the default [*]", billing.Indices)
	}

	// The default policy of docs/configuration.md (Policies), written out in full, matches the built-in one.
	def := cfg.Policies["default"]
	builtin := DefaultPolicy()
	builtin.MaintenanceWindows = def.MaintenanceWindows
	if !policiesEqual(def, builtin) {
		t.Errorf("default policy = %+v, want the built-in %+v", *def, *builtin)
	}
	eq(t, "default windows", len(def.MaintenanceWindows), 1)
	w := def.MaintenanceWindows[0]
	eq(t, "window spec", w.Schedule.Spec, "0 2 * * SUN")
	eq(t, "window duration", w.Duration.D(), 2*time.Hour)
	// 2026-11-26 is a Thursday; the next 02:00 Sunday is the 29th.
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	eq(t, "window next", w.Schedule.Sched.Next(from), time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC))

	// Explicit values win; unset ones come from the built-in policy, and
	// explicit zeroes of pointer fields (cooldown 0s, max_lag 0, false) stay.
	s := cfg.Policies["strict"]
	eq(t, "strict name", s.Name, "strict")
	eq(t, "strict mode", s.Mode, ModeAuto)
	eq(t, "strict probe_interval", s.ProbeInterval.D(), 10*time.Second)
	eq(t, "strict probe_timeout", s.ProbeTimeout.D(), 2500*time.Millisecond)
	eq(t, "strict leader_down_after", s.LeaderDownAfter.D(), 90*time.Second)
	eq(t, "strict min_failed_probes (default)", s.MinFailedProbes, 3)
	eq(t, "strict require_follower_witness", *s.RequireFollowerWitness, false)
	eq(t, "strict max_lag_operations", *s.MaxLagOperations, int64(0))
	eq(t, "strict max_observation_age (default)", s.MaxObservationAge.D(), 60*time.Second)
	eq(t, "strict approval_timeout (default)", s.ApprovalTimeout.D(), 15*time.Minute)
	eq(t, "strict on_approval_timeout", s.OnApprovalTimeout, "promote")
	eq(t, "strict cooldown", s.Cooldown.D(), time.Duration(0))
	eq(t, "strict fence_leader", *s.FenceLeader, false)
	eq(t, "strict promote_concurrency (default)", s.PromoteConcurrency, 8)
	eq(t, "strict windows", len(s.MaintenanceWindows), 2)
	eq(t, "strict window[0] next", s.MaintenanceWindows[0].Schedule.Sched.Next(from), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	eq(t, "strict window[1] duration", s.MaintenanceWindows[1].Duration.D(), time.Hour)

	// Hooks: secrets resolved per type, timeout defaulted unless set.
	wantHooks := []struct {
		name, typ string
		secret    string
		timeout   time.Duration
	}{
		{"oncall", "pagerduty", readSecretFixture(t, "pd-routing-key"), DefaultHookTimeout},
		{"dns-flip", "exec", "", 45 * time.Second},
		{"chat", "slack", envSlackURL, DefaultHookTimeout},
		{"genie", "opsgenie", envOpsgenieKey, DefaultHookTimeout},
		{"audit", "webhook", "", DefaultHookTimeout},
	}
	if len(cfg.Hooks) != len(wantHooks) {
		t.Fatalf("got %d hooks, want %d", len(cfg.Hooks), len(wantHooks))
	}
	for i, want := range wantHooks {
		h := cfg.Hooks[i]
		eq(t, "hook name", h.Name, want.name)
		eq(t, h.Name+" type", h.Type, want.typ)
		eq(t, h.Name+" secret", h.Secret.Reveal(), want.secret)
		eq(t, h.Name+" timeout", h.Timeout.D(), want.timeout)
	}
	if !slices.Equal(cfg.Hooks[0].Events, []string{"leader_down", "approval_required", "promotion_succeeded", "promotion_failed"}) {
		t.Errorf("oncall events = %q", cfg.Hooks[0].Events)
	}
	if !slices.Equal(cfg.Hooks[1].Command, []string{"/usr/local/bin/flip-dns", "--to", "follower"}) {
		t.Errorf("dns-flip command = %q", cfg.Hooks[1].Command)
	}
	eq(t, "audit url", cfg.Hooks[4].URL, "https://audit.example.com/drwatch")
	eq(t, "audit header", cfg.Hooks[4].Headers["X-Source"], "drwatch")

	// Drills: schedules parsed, type defaults to readiness.
	if len(cfg.Drills) != 3 {
		t.Fatalf("got %d drills, want 3", len(cfg.Drills))
	}
	d := cfg.Drills[0]
	eq(t, "drill name", d.Name, "weekly-readiness")
	eq(t, "drill pair", d.Pair, "orders")
	eq(t, "drill type", d.Type, "readiness")
	eq(t, "drill schedule", d.Schedule.String(), "0 3 * * MON")
	eq(t, "drill next", d.Schedule.Sched.Next(from), time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC))
	eq(t, "failover drill type", cfg.Drills[1].Type, "failover")
	eq(t, "weekly descriptor next", cfg.Drills[1].Schedule.Sched.Next(from), time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	eq(t, "nightly type (default)", cfg.Drills[2].Type, "readiness")
}

func TestLoadMinimal(t *testing.T) {
	cfg := mustLoad(t, "testdata/good/minimal.yaml")

	eq(t, "ListenAddress", cfg.ListenAddress, DefaultListenAddress)
	eq(t, "StateDir", cfg.StateDir, DefaultStateDir)
	eq(t, "API token set", cfg.API.Token.IsSet(), false)
	eq(t, "hooks", len(cfg.Hooks), 0)
	eq(t, "drills", len(cfg.Drills), 0)
	eq(t, "ha", cfg.HA, HA{LeaseIndex: DefaultLeaseIndex, TTL: DefaultHATTL}) // off; identity read only when on

	p, ok := cfg.Pair("orders")
	if !ok {
		t.Fatal(`Pair("orders") not found`)
	}
	if !slices.Equal(p.Indices, []string{"*"}) {
		t.Errorf("indices = %q, want [*]", p.Indices)
	}
	eq(t, "policy", p.Policy, "default")
	if p.Resolved == nil || p.Resolved != cfg.Policies["default"] {
		t.Fatalf("Resolved = %p, want the built-in default policy %p", p.Resolved, cfg.Policies["default"])
	}
	eq(t, "policies", len(cfg.Policies), 1)
	// The built-in policy has the defaults of docs/configuration.md (Policies), in semi-auto mode.
	pol := p.Resolved
	eq(t, "Name", pol.Name, "default")
	eq(t, "Mode", pol.Mode, ModeSemiAuto)
	eq(t, "ProbeInterval", pol.ProbeInterval.D(), 5*time.Second)
	eq(t, "ProbeTimeout", pol.ProbeTimeout.D(), 3*time.Second)
	eq(t, "LeaderDownAfter", pol.LeaderDownAfter.D(), 30*time.Second)
	eq(t, "MinFailedProbes", pol.MinFailedProbes, 3)
	eq(t, "RequireFollowerWitness", *pol.RequireFollowerWitness, true)
	eq(t, "MaxLagOperations", *pol.MaxLagOperations, int64(1000))
	eq(t, "MaxObservationAge", pol.MaxObservationAge.D(), 60*time.Second)
	eq(t, "ApprovalTimeout", pol.ApprovalTimeout.D(), 15*time.Minute)
	eq(t, "OnApprovalTimeout", pol.OnApprovalTimeout, "hold")
	eq(t, "Cooldown", pol.Cooldown.D(), time.Hour)
	eq(t, "FenceLeader", *pol.FenceLeader, true)
	eq(t, "PromoteConcurrency", pol.PromoteConcurrency, 8)
	eq(t, "MaintenanceWindows", len(pol.MaintenanceWindows), 0)

	eq(t, "leader address", p.Leader.Addresses[0].String(), "https://leader.example.com:9200")
	eq(t, "leader password set", p.Leader.Password.IsSet(), false)
	eq(t, "follower alias", p.Follower.LeaderAlias, "leader")
}

// A policy that sets only some fields gets the rest from the built-in one,
// and every pair gets its own policy object, shared with cfg.Policies.
func TestPartialPolicyDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
pairs:
  - name: a
    leader: {url: "http://a:9200"}
    follower: {url: "http://b:9200", leader_alias: a}
    policy: quick
policies:
  quick:
    mode: dry-run
    probe_interval: 1s
    probe_timeout: 500ms
`))
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.Policies["quick"]
	eq(t, "Resolved", cfg.Pairs[0].Resolved, q)
	eq(t, "Mode", q.Mode, ModeDryRun)
	eq(t, "ProbeInterval", q.ProbeInterval.D(), time.Second)
	eq(t, "LeaderDownAfter", q.LeaderDownAfter.D(), 30*time.Second)
	eq(t, "Cooldown", q.Cooldown.D(), time.Hour)
	eq(t, "OnApprovalTimeout", q.OnApprovalTimeout, "hold")
	// The unused built-in default is still there, in semi-auto mode.
	eq(t, "default Mode", cfg.Policies["default"].Mode, ModeSemiAuto)
	// Filling defaults must not share pointers between policies.
	if q.Cooldown == cfg.Policies["default"].Cooldown || q.FenceLeader == cfg.Policies["default"].FenceLeader {
		t.Error("policies share default pointers")
	}
}

func policiesEqual(a, b *Policy) bool {
	return a.Name == b.Name && a.Mode == b.Mode &&
		a.ProbeInterval == b.ProbeInterval && a.ProbeTimeout == b.ProbeTimeout &&
		a.LeaderDownAfter == b.LeaderDownAfter && a.MinFailedProbes == b.MinFailedProbes &&
		*a.RequireFollowerWitness == *b.RequireFollowerWitness &&
		*a.MaxLagOperations == *b.MaxLagOperations &&
		a.MaxObservationAge == b.MaxObservationAge && a.ApprovalTimeout == b.ApprovalTimeout &&
		a.OnApprovalTimeout == b.OnApprovalTimeout && *a.Cooldown == *b.Cooldown &&
		*a.FenceLeader == *b.FenceLeader && a.PromoteConcurrency == b.PromoteConcurrency &&
		len(a.MaintenanceWindows) == len(b.MaintenanceWindows)
}

// TestBad loads every testdata/bad/NAME.yaml and compares the whole error
// text with NAME.err. Run with -update to rewrite the .err files.
func TestBad(t *testing.T) {
	setTestEnv(t)
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("only %d bad configs", len(files))
	}
	secrets := secretFixtures(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded (%d pairs), want an error", len(cfg.Pairs))
			}
			if cfg != nil {
				t.Error("Load returned a config with an error")
			}
			es, ok := AsErrors(err)
			if !ok {
				t.Fatalf("error %T is not config.Errors: %v", err, err)
			}
			checkErrors(t, es)
			got := err.Error()
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("error text contains the secret %q", s)
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("error text differs from %s\n--- got:\n%s\n--- want:\n%s", golden, got, want)
			}
		})
	}
}

// checkErrors asserts the invariants of every Errors value: not empty, every
// entry has a message, and entries are in line order.
func checkErrors(t testing.TB, es Errors) {
	t.Helper()
	if len(es) == 0 {
		t.Fatal("empty config.Errors")
	}
	for i, e := range es {
		if e == nil {
			t.Fatalf("error %d is nil", i)
		}
		if e.Msg == "" {
			t.Errorf("error %d (%s, line %d) has no message", i, e.Path, e.Line)
		}
		if i > 0 && e.Line < es[i-1].Line {
			t.Errorf("errors out of line order: %q after %q", e.Error(), es[i-1].Error())
		}
	}
}

// secretFixtures returns every fake secret the tests use.
func secretFixtures(t *testing.T) []string {
	t.Helper()
	out := []string{envFollowerPassword, envAivenToken, envSlackURL, "fake-slack-secret", envOpsgenieKey, "hunter2"}
	for _, f := range []string{"api-token", "leader-password", "pd-routing-key", "aiven-token", "short-token", "canary"} {
		out = append(out, readSecretFixture(t, f))
	}
	return out
}

// A secret file with a distinctive value, used everywhere a secret can be,
// in configs that are broken in every other way, never shows in the errors.
func TestErrorsNeverContainSecrets(t *testing.T) {
	const canaryFile = "testdata/secrets/canary"
	canary := readSecretFixture(t, "canary")
	t.Setenv("DRWATCH_TEST_CANARY", canary)

	configs := map[string]string{
		"files": `
listen_address: nope
api: {token_file: ` + canaryFile + `}
pairs:
  - name: Bad Name
    leader:
      url: ftp://leader
      password_file: ` + canaryFile + `
      ca_file: ` + canaryFile + `
    follower:
      url: https://follower:9200
      username: u
      password_file: ` + canaryFile + `
      password_env: DRWATCH_TEST_CANARY
    aiven:
      project: p
      leader_service: s
      follower_service: s
      token_file: ` + canaryFile + `
    policy: missing
policies:
  default: {mode: nope, probe_timeout: 1h}
hooks:
  - name: pd
    type: pagerduty
    routing_key_file: ` + canaryFile + `
    events: [nope]
  - name: og
    type: opsgenie
    api_key_file: ` + canaryFile + `
    api_key_env: DRWATCH_TEST_CANARY
  - name: sl
    type: slack
    url_file: ` + canaryFile + `
    url: https://hooks.slack.example.com/x
`,
		"env": `
pairs:
  - name: orders
    leader:
      url: https://leader:9200
      username: u
      password_env: DRWATCH_TEST_CANARY
    follower:
      url: https://follower:9200
      username: u
      password_env: DRWATCH_TEST_CANARY
    aiven: {project: p, token_env: DRWATCH_TEST_CANARY}
hooks:
  - {name: sl, type: slack, url_env: DRWATCH_TEST_CANARY, events: [leader_down], command: [x]}
  - {name: og, type: opsgenie, api_key_env: DRWATCH_TEST_CANARY, events: [nope]}
drills:
  - {name: d, pair: nope, schedule: "@never"}
  - {name: e, pair: nope, schedule: "@daily"}
`,
		// Decode errors stop before secrets are read, but must not echo
		// a secret written inline by mistake either.
		"decode": `
pairs:
  - name: orders
    leader:
      url: https://u:` + canary + `@leader:9200
      urls: "https://u:` + canary + `@leader:9200"
      password: ` + canary + `
    follower: {url: [https://follower]}
`,
		// The secret itself written where the name of a variable or file belongs.
		"inline": `
pairs:
  - name: orders
    leader:
      url: https://leader:9200
      username: u
      password_env: "` + canary + `"
    follower:
      url: https://follower:9200
      username: u
      password_env: ` + canary + `
      leader_alias: l
    aiven: {project: p, leader_service: a, follower_service: b, token_env: "` + canary + `"}
hooks:
  - {name: sl, type: slack, url_env: "https://hooks.slack.example.com/services/` + canary + `", events: [leader_down]}
  - {name: pd, type: pagerduty, routing_key_env: "` + canary + `", events: [leader_down]}
  - name: og
    type: opsgenie
    api_key_env: "` + canary + `"
    events: [leader_down]
`,
	}
	for name, text := range configs {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(text))
			if err == nil {
				t.Fatal("Parse succeeded, want errors")
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error text contains the secret:\n%v", err)
			}
			es, ok := AsErrors(err)
			if !ok {
				t.Fatalf("not config.Errors: %v", err)
			}
			checkErrors(t, es)
			if len(es) < 3 {
				t.Errorf("only %d errors, want them all:\n%v", len(es), err)
			}
			t.Logf("%v", err)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-config.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/no-such-config.yaml") {
		t.Fatalf("Load of a missing file: %v, want an error naming the file", err)
	}
	if _, ok := AsErrors(err); ok {
		t.Error("a missing config file is not a field error")
	}
}

func TestFieldErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Path: "pairs[1].follower.url", Line: 7, Msg: "is required"}, "pairs[1].follower.url (line 7): is required"},
		{FieldError{Path: "pairs", Msg: "at least one pair is required"}, "pairs: at least one pair is required"},
		{FieldError{Line: 3, Msg: "must be a mapping"}, "line 3: must be a mapping"},
		{FieldError{Msg: "config is empty"}, "config is empty"},
	} {
		eq(t, "Error()", tc.e.Error(), tc.want)
	}
	es := Errors{{Path: "a", Line: 2, Msg: "x"}, {Path: "b", Line: 5, Msg: "y"}}
	eq(t, "Errors.Error()", es.Error(), "a (line 2): x\nb (line 5): y")
}

// Anchors and aliases work for what operators share between entries.
func TestAliases(t *testing.T) {
	cfg, err := Parse([]byte(`
pairs:
  - name: a
    leader: &leader {url: "http://leader:9200"}
    follower: &follower {url: "http://follower:9200", leader_alias: l}
    indices: &idx ["a-*", "b-*"]
  - name: b
    leader: *leader
    follower: *follower
    indices: *idx
`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "b leader", cfg.Pairs[1].Leader.Addresses[0].Host, "leader:9200")
	eq(t, "b indices", strings.Join(cfg.Pairs[1].Indices, ","), "a-*,b-*")
}

// An alias bomb fails fast with one error instead of expanding.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &i [")
	b.WriteString(strings.Repeat(`"a",`, 3000))
	b.WriteString("\"a\"]\np: &p {name: a, indices: *i, leader: {url: \"http://a:1\"}, follower: {url: \"http://b:1\", leader_alias: a}}\npairs: [")
	b.WriteString(strings.Repeat("*p,", 3000))
	b.WriteString("*p]\n")
	_, err := Parse([]byte(b.String())) // stops expanding: one error, not a hang
	if err == nil || !strings.Contains(err.Error(), "aliases expand to too many values") {
		t.Fatalf("err = %.300v", err)
	}
	if es, _ := AsErrors(err); len(es) != 1 {
		t.Errorf("got %d errors, want 1", len(es))
	}
}

// longBadConfig is 2000 pairs with a syntax error on its last line.
func longBadConfig() []byte {
	var b strings.Builder
	b.WriteString("pairs:\n")
	for i := range 2000 {
		b.WriteString("  - name: p" + strings.Repeat("x", i%7) + "\n    leader:\n      url: http://x:9200\n")
	}
	b.WriteString("   follower: {}\n")
	return []byte(b.String())
}

// How long a syntax error in a long file takes to report (the speed is
// measured here, not asserted in a test).
func BenchmarkSyntaxErrorLongFile(b *testing.B) {
	doc := longBadConfig()
	for b.Loop() {
		if _, err := Parse(doc); err == nil {
			b.Fatal("no error")
		}
	}
}

// A syntax error is reported on the line at fault, not where the enclosing
// block starts, even in a long file.
func TestSyntaxErrorLine(t *testing.T) {
	_, err := Parse(longBadConfig())
	want := "line 6002: did not find expected '-' indicator"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}

	for _, tc := range []struct{ doc, want string }{
		// The mistake on the last line, with and without a final newline.
		{"pairs:\n  - name: a\n    leader:\n      url: x\n     follower: {}", "line 5: did not find expected key (check the indentation)"},
		{"pairs:\n  - name: a\n    leader:\n      url: x\n     follower: {}\n", "line 5: did not find expected key (check the indentation)"},
		{"pairs:\n  - name: a\n\tleader: {}\n", "line 3: found a tab character that violates indentation"},
		{"pairs: [a, b\n", "line 1: did not find expected ',' or ']'"},
		{"a: 'unterminated\n", "line 2: found unexpected end of stream (is a quote or bracket left open?)"},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.doc, err, tc.want)
		}
	}
}
