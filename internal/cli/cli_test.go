package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/cli"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeCfg(t *testing.T, leader, follower string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yml")
	cfg := fmt.Sprintf(`pairs:
  - name: orders
    leader: {url: %s}
    follower: {url: %s, leader_alias: leader}
`, leader, follower)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, errOut := run(); code != cli.ExitUsage || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("no args: %d %s", code, errOut)
	}
	if code, _, _ := run("frobnicate"); code != cli.ExitUsage {
		t.Fatalf("unknown command exit = %d", code)
	}
	if code, out, _ := run("version"); code != 0 || !strings.HasPrefix(out, "drwatch ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := run("check"); code != cli.ExitUsage || !strings.Contains(errOut, "--config FILE is required") {
		t.Fatalf("check without --config: %d %s", code, errOut)
	}
	if code, _, _ := run("check", "--config", "x", "extra"); code != cli.ExitUsage {
		t.Fatalf("stray argument exit = %d", code)
	}
}

func TestCheck(t *testing.T) {
	good := writeCfg(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	if code, out, errOut := run("check", "--config", good); code != 0 || !strings.Contains(out, "OK (1 pairs") {
		t.Fatalf("good: %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("pairs:\n  - name: orders\n    leader: {url: ftp://x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run("check", "--config", bad)
	if code != cli.ExitFailure {
		t.Fatalf("bad config exit = %d", code)
	}
	for _, want := range []string{`pairs[0].leader.url (line 3): scheme must be`, `pairs[0].follower`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := run("check", "--config", "/nonexistent/drwatch.yml"); code != cli.ExitFailure || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: %d %s", code, errOut)
	}
}

func TestStatusExitCodesAndJSON(t *testing.T) {
	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	cfg := writeCfg(t, leader.URL(), follower.URL())

	code, out, errOut := run("status", "--config", cfg, "--json")
	if code != 0 {
		t.Fatalf("healthy pair: exit %d\n%s%s", code, out, errOut)
	}
	var st report.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Pairs) != 1 || len(st.Pairs[0].Problems) != 0 {
		t.Fatalf("json: %v %s", err, out)
	}

	leader.Advance("orders-2", 1, 25) // 25 writes the follower has not fetched: its view still says 0
	code, out, _ = run("status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "orders-2") || !strings.Contains(out, "25 ops") || !strings.Contains(out, "max 25 ops") ||
		!strings.Contains(out, "the follower believes 0: the leader is 25 ahead") {
		t.Fatalf("lagging text (exit %d):\n%s", code, out)
	}

	leader.Server.Close()
	code, out, _ = run("status", "--config", cfg)
	if code != cli.ExitDegraded || !strings.Contains(out, "leader     DOWN  connection_refused") ||
		!strings.Contains(out, "lag unknown for 3 indices: leader's checkpoints not read") ||
		!strings.Contains(out, "the follower believes 0, by its last view of the leader: not a measurement") {
		t.Fatalf("leader down (exit %d):\n%s", code, out)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	cfg := writeCfg(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	if code, _, errOut := run("run", "--config", cfg, "--log-format", "xml"); code != cli.ExitUsage || !strings.Contains(errOut, "--log-format") {
		t.Fatalf("bad log format: %d %s", code, errOut)
	}
}

// A valid config with parts this version does not act on passes, with a
// warning naming each: nobody must think a hook pages them when it does not.
func TestCheckWarnsAboutInactiveParts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yml")
	key := filepath.Join(filepath.Dir(p), "pd")
	if err := os.WriteFile(key, []byte("routing-key-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AIVEN_TOKEN_TEST", "tok")
	cfg := `pairs:
  - name: orders
    leader: {url: http://127.0.0.1:1}
    follower: {url: http://127.0.0.1:2, leader_alias: leader}
    aiven: {project: acme, leader_service: a, follower_service: b, token_env: AIVEN_TOKEN_TEST}
    allow_destructive_drills: true
hooks:
  - name: oncall
    type: pagerduty
    routing_key_file: ` + key + `
    events: [leader_down]
drills:
  - name: weekly
    pair: orders
    schedule: "0 3 * * MON"
  - name: weekly-failover
    pair: orders
    type: failover
    schedule: "0 4 * * MON"
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("check", "--config", p)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check: %d %s %s", code, out, errOut)
	}
	if strings.Contains(errOut, "hooks") {
		t.Errorf("check warns about hooks, which are delivered:\n%s", errOut)
	}
	if strings.Contains(errOut, "drills[0]") {
		t.Errorf("check warns about a readiness drill, which is run:\n%s", errOut)
	}
	if strings.Contains(errOut, "pairs[0]") {
		t.Errorf("check warns about an Aiven pair, which is promoted through the Aiven API:\n%s", errOut)
	}
	for _, want := range []string{"warning: drills[1]: a failover drill of Aiven pair orders is not run"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}
