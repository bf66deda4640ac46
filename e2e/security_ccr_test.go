//go:build e2e && ccr && secure

// The secured lab's own tests (LAB_SECURITY=1, deploy/e2e.sh's second
// run): drwatch as the least-privilege drwatch user with exactly the roles
// of deploy/security, every missing permission named in words, 401s and
// certificate errors never taken for a dead leader, and the roles of
// use_roles frozen into replication at _start.
package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/drill"
	drlab "github.com/drwatch/drwatch/internal/lab"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/promote"
)

// requireSecure fails a secure test run on a lab without security.
func requireSecure(t *testing.T) {
	t.Helper()
	if !lab.Security {
		t.Fatal("the secure tests need a secured lab: LAB_SECURITY=1 (deploy/e2e.sh runs them so)")
	}
}

// role is a security plugin role as its REST API reads and writes it.
type role struct {
	ClusterPermissions []string `json:"cluster_permissions"`
	IndexPermissions   []struct {
		IndexPatterns  []string `json:"index_patterns"`
		AllowedActions []string `json:"allowed_actions"`
	} `json:"index_permissions"`
}

func baseOf(side opensearch.Side) string {
	if side == opensearch.SideLeader {
		return lab.LeaderURL
	}
	return lab.FollowerURL
}

func getRole(t *testing.T, base, name string) role {
	t.Helper()
	var m map[string]role
	if err := json.Unmarshal(osOK(t, base, "GET", "/_plugins/_security/api/roles/"+name, ""), &m); err != nil {
		t.Fatal(err)
	}
	r, ok := m[name]
	if !ok {
		t.Fatalf("no role %s on %s", name, base)
	}
	return r
}

func putRole(t *testing.T, base, name string, r role) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	osOK(t, base, "PUT", "/_plugins/_security/api/roles/"+name, string(b))
}

// without is r with action taken out wherever it is granted.
func (r role) without(action string) (role, bool) {
	out := role{}
	found := false
	for _, a := range r.ClusterPermissions {
		if a == action {
			found = true
			continue
		}
		out.ClusterPermissions = append(out.ClusterPermissions, a)
	}
	for _, ip := range r.IndexPermissions {
		kept := ip
		kept.AllowedActions = nil
		for _, a := range ip.AllowedActions {
			if a == action {
				found = true
				continue
			}
			kept.AllowedActions = append(kept.AllowedActions, a)
		}
		if len(kept.AllowedActions) > 0 {
			out.IndexPermissions = append(out.IndexPermissions, kept)
		}
	}
	if out.ClusterPermissions == nil {
		out.ClusterPermissions = []string{}
	}
	if out.IndexPermissions == nil {
		out.IndexPermissions = r.IndexPermissions[:0:0] // [] for the REST API, never null
	}
	return out, found
}

// revoke takes action out of every drwatch role of side that grants it,
// until the returned func (also a cleanup) puts the roles back.
func revoke(t *testing.T, side opensearch.Side, action string) func() {
	t.Helper()
	base := baseOf(side)
	saved := map[string]role{}
	for _, name := range drlab.DrwatchRoles(drlab.Node(side)) {
		r := getRole(t, base, name)
		if less, found := r.without(action); found {
			saved[name] = r
			putRole(t, base, name, less)
		}
	}
	if len(saved) == 0 {
		t.Fatalf("no drwatch role grants %s on the %s", action, side)
	}
	done := false
	restore := func() {
		if done {
			return
		}
		done = true
		for name, r := range saved {
			putRole(t, base, name, r)
		}
	}
	t.Cleanup(restore)
	return restore
}

// readinessChecks runs the readiness drill as the drwatch user and
// returns its credentials check.
func readinessCredentials(t *testing.T, cfg string) drill.Check {
	t.Helper()
	code, out, errOut := runCLI(t, "drill", "--config", cfg, "--name", "ready", "--json")
	if code != 0 && code != 1 {
		t.Fatalf("drwatch drill: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep drill.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("drwatch drill --json: %v\n%s", err, out)
	}
	for _, c := range rep.Checks {
		if c.Name == drill.CheckCredentials {
			return c
		}
	}
	t.Fatalf("no credentials check in %s", out)
	return drill.Check{}
}

// readinessConfig is the config of a readiness drill of prefix's indices
// (without HA: the drill runs in the command; HA's permissions are
// TestSecureHAPermissionsAreNamed's).
func readinessConfig(t *testing.T, prefix string) string {
	t.Helper()
	cfg := config(t, "", "drills:\n  - name: ready\n    pair: lab\n    schedule: \"@yearly\"\n    type: readiness\n")
	rewrite(t, cfg, `    indices: ["*", "-.*"]`, fmt.Sprintf(`    indices: ["%s-%s-*"]`, prefix, runID))
	return cfg
}

// With exactly the roles of deploy/security, the readiness drill tries
// every permission drwatch needs and the security plugin refuses none.
func TestSecureReadinessTriesEveryPermission(t *testing.T) {
	requireSecure(t)
	replicated(t, "secready", 1, 1)
	cfg := readinessConfig(t, "secready")
	// Not mapped to the roles of use_roles: the drill's restart of
	// replication would be refused, and the drill says so.
	c := readinessCredentials(t, cfg)
	for _, it := range c.Items {
		if !strings.Contains(it, "not mapped to role") && !strings.Contains(it, "setup/validate") {
			t.Errorf("unexpected finding: %s", it)
		}
	}
	if !slices.ContainsFunc(c.Items, func(it string) bool {
		return strings.Contains(it, "follower: user drwatch is not mapped to role "+lab.FollowerRole+" of use_roles")
	}) {
		t.Errorf("the missing mapping to %s is not named: %q", lab.FollowerRole, c.Items)
	}
	mapDrwatchToReplicationRoles(t)
	mark := markLogs(t)
	c = readinessCredentials(t, cfg)
	requireNoRefusals(t, mark)
	if c.Result != drill.Pass {
		t.Errorf("mapped to the roles of use_roles, credentials = %s: %s %q", c.Result, c.Detail, c.Items)
	}
	want := map[opensearch.Side]int{}
	for _, p := range opensearch.Permissions {
		if p.On != opensearch.OnWrite && p.Role != "drwatch_ha" {
			want[p.Side]++
		}
	}
	for side, n := range want {
		if s := fmt.Sprintf("%s: user drwatch, roles [", side); !strings.Contains(c.Detail, s) {
			t.Errorf("credentials detail %q does not name the %s's user", c.Detail, side)
		}
		if s := fmt.Sprintf("%d permissions tried on names no index has", n); !strings.Contains(c.Detail, s) {
			t.Errorf("credentials detail %q: want %q for the %s", c.Detail, s, side)
		}
	}
	// Nothing was made: no index, no autofollow rule.
	for _, base := range []string{lab.LeaderURL, lab.FollowerURL} {
		if code, body := osDo(t, base, "GET", "/_cat/indices/*drwatch-permission-check*?format=json", ""); code != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%s after the drill: HTTP %d %s", base, code, body)
		}
	}
	if rules := autofollowRules(t); slices.ContainsFunc(rules, func(r string) bool { return strings.Contains(r, "drwatch-permission-check") }) {
		t.Errorf("an autofollow rule was made: %v", rules)
	}
}

// For each permission of the table taken away, the readiness drill names
// it: "the <side> refused <action> to user drwatch: add it to its role".
func TestSecureEachMissingPermissionIsNamed(t *testing.T) {
	requireSecure(t)
	replicated(t, "secperm", 1, 1)
	cfg := readinessConfig(t, "secperm")
	seen := map[string]bool{}
	for _, p := range opensearch.Permissions {
		key := string(p.Side) + " " + p.Action
		if p.Role == "drwatch_ha" || seen[key] {
			continue
		}
		seen[key] = true
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			restore := revoke(t, p.Side, p.Action)
			c := readinessCredentials(t, cfg)
			restore()
			reported := strings.TrimSuffix(p.Action, "*")
			want := fmt.Sprintf("the %s refused %s to user drwatch: add it to its role", p.Side, reported)
			if !slices.ContainsFunc(c.Items, func(it string) bool { return strings.Contains(it, want) }) {
				t.Errorf("%s revoked: credentials = %s, no item says %q:\n%s", key, c.Result, want, strings.Join(c.Items, "\n"))
			}
			// a drill's permission warns (or fails, when the readiness
			// drill's own reads need it too); any other fails
			if c.Result != drill.Fail && !(p.Role == "drwatch_drill" && c.Result == drill.Warn) {
				t.Errorf("%s revoked: credentials = %s, want fail", key, c.Result)
			}
		})
	}
}

// Each permission of HA taken away, a daemon with HA names it: the lease
// round that needs it fails in those words.
func TestSecureHAPermissionsAreNamed(t *testing.T) {
	requireSecure(t)
	replicated(t, "secha", 1, 1)
	for i, p := range opensearch.PermissionsOf(opensearch.SideFollower) {
		if p.Role != "drwatch_ha" {
			continue
		}
		t.Run(strings.ReplaceAll(p.Action, "/", "_"), func(t *testing.T) {
			revoke(t, opensearch.SideFollower, p.Action)
			lease := fmt.Sprintf(".drwatch-ha-sec-%s-%d", runID, i)
			t.Cleanup(func() { osDo(t, lab.FollowerURL, "DELETE", "/"+lease, "") })
			cfg, _ := decisionConfigIndices(t, "", "manual", scope("secha"))
			writeFile(t, cfg, readFile(t, cfg)+fmt.Sprintf("ha:\n  enabled: true\n  lease_index: %s\n  identity: sec\n", lease))
			d := startDaemonWith(t, drwatch, nil, cfg, false)
			want := "the follower refused " + p.Action + " to user drwatch: add it to its role"
			eventually(t, 30*time.Second, "the daemon names "+p.Action, func() bool { return strings.Contains(d.logs.String(), want) })
		})
	}
}

// A promotion by hand whose _stop the follower refuses: drwatch status
// and the journal name the permission, the user and what to do.
func TestSecurePromotionNamesARefusedStop(t *testing.T) {
	requireSecure(t)
	idx := replicated(t, "secstop", 1, 1)
	cfg := scopedConfig(t, "secstop")
	revoke(t, opensearch.SideFollower, "indices:admin/plugins/replication/index/stop")
	code, out, errOut := runCLI(t, "promote", "--config", cfg, "--pair", "lab", "--yes")
	want := "the follower refused indices:admin/plugins/replication/index/stop to user drwatch: add it to its role"
	if code == 0 || !strings.Contains(out+errOut, want) {
		t.Fatalf("promote with _stop refused: exit %d, want the words %q\n%s\n%s", code, want, out, errOut)
	}
	_, status, _ := runCLI(t, "status", "--config", cfg)
	if !strings.Contains(status, "failed: stop "+idx[0]+": ") || !strings.Contains(status, want) {
		t.Errorf("drwatch status does not say the failed stop of %s in the words %q:\n%s", idx[0], want, status)
	}
	steps := promotionSteps(t, cfg)
	if !slices.ContainsFunc(steps, func(s promote.Step) bool { return strings.Contains(s.Detail, want) }) {
		t.Errorf("the journal's steps do not say %q: %+v", want, steps)
	}
	if strings.Contains(status, "HTTP 403") && !strings.Contains(status, want) {
		t.Errorf("status says HTTP 403 without the words: %s", status)
	}
	if !syncing(t, idx[0]) {
		t.Errorf("%s stopped following though its _stop was refused", idx[0])
	}
}

// A leader that refuses drwatch's credentials (401) is alive: never
// leader_down, never a promotion; status says why in words. So is a
// leader whose certificate drwatch does not trust (no ca_file).
func TestSecureRefusedCredentialsAreNotADeadLeader(t *testing.T) {
	requireSecure(t)
	replicated(t, "secauth", 1, 1)
	wrong := filepath.Join(t.TempDir(), "wrong-password")
	writeFile(t, wrong, "not-the-password\n")
	for _, tc := range []struct {
		name, from, to, words string
	}{
		{"wrong password", "password_file: " + lab.DrwatchPasswordFile + "\n      ca_file", "password_file: " + wrong + "\n      ca_file",
			"the leader refused the credentials of user drwatch (wrong password, or no such user)"},
		{"unknown CA", "      ca_file: " + lab.CAFile + "\n    follower:", "    follower:",
			"presented a certificate drwatch does not accept: its certificate is signed by an authority drwatch does not trust (unknown CA)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := decisionConfigIndices(t, "", "auto", scope("secauth"))
			before := readFile(t, cfg)
			rewrite(t, cfg, tc.from, tc.to)
			if readFile(t, cfg) == before {
				t.Fatalf("the config did not change:\n%s", before)
			}
			d := startDaemon(t, cfg)
			stop := make(chan struct{})
			seen := watchStates(t, d, stop)
			time.Sleep(8 * time.Second) // leader_down_after is 2s
			close(stop)
			requireNeverDown(t, <-seen, tc.name)
			_, status, _ := runCLI(t, "status", "--config", cfg)
			if !strings.Contains(status, tc.words) {
				t.Errorf("status does not say %q:\n%s", tc.words, status)
			}
		})
	}
}

// The roles named in use_roles are frozen into replication at _start:
// shrunk later, the replication task fails, and drwatch names the
// missing permission and the role.
func TestSecureShrunkReplicationRoleIsSurfaced(t *testing.T) {
	requireSecure(t)
	idx := replicated(t, "secfrozen", 1, 1)
	cfg := scopedConfig(t, "secfrozen")
	r := getRole(t, lab.FollowerURL, lab.FollowerRole)
	less, found := r.without("indices:data/write/plugins/replication/changes")
	if !found {
		t.Fatalf("%s does not grant the replay of changes", lab.FollowerRole)
	}
	putRole(t, lab.FollowerURL, lab.FollowerRole, less)
	t.Cleanup(func() { putRole(t, lab.FollowerURL, lab.FollowerRole, r) })
	for i := range 5 {
		osOK(t, lab.LeaderURL, "PUT", fmt.Sprintf("/%s/_doc/%d", idx[0], i), `{"n":1}`)
	}
	want := "no permissions for [indices:data/write/plugins/replication/changes] and associated roles [" + lab.FollowerRole + "]"
	var status string
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, status, _ = runCLI(t, "status", "--config", cfg)
		if strings.Contains(status, want) {
			break
		}
		if time.Now().After(deadline) {
			_, st := osDo(t, lab.FollowerURL, "GET", "/_plugins/_replication/"+idx[0]+"/_status", "")
			t.Fatalf("drwatch status does not name %q after 90s:\n%s\n_status: %s", want, status, st)
		}
		time.Sleep(time.Second)
	}
	if !strings.Contains(status, "failed") {
		t.Errorf("status does not call %s failed:\n%s", idx[0], status)
	}
}
