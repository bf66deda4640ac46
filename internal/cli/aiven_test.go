package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/cli"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

const aivenPassword = "avnadmin-secret-5e0b"

// aivenProject is a project with two CCR pairs and one unrelated
// integration, behind the fake Aiven API the environment points at.
func aivenProject(t *testing.T) *fakeaiven.Server {
	t.Helper()
	f := fakeaiven.New(t, "")
	for _, s := range []fakeaiven.Service{
		{Name: "os-prod", Version: "2.19.1"}, {Name: "os-dr", Version: "2.19.1"},
		{Name: "logs", Version: "2.17.0"}, {Name: "logs-dr", Version: "2.17.0"},
		{Name: "search-ui"},
	} {
		s.Password = aivenPassword
		f.AddService("acme", s)
	}
	f.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	f.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "logs", DestService: "logs-dr"})
	f.AddIntegration("acme", fakeaiven.Integration{Type: "opensearch_cross_cluster_search", SourceService: "os-prod", DestService: "search-ui"})
	t.Setenv("AIVEN_TOKEN", f.Token)
	t.Setenv("AIVEN_WEB_URL", f.URL)
	return f
}

func TestAivenDiscoverText(t *testing.T) {
	f := aivenProject(t)
	code, out, errOut := run("aiven", "discover", "--project", "acme")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# Aiven project acme (" + f.URL + "): 2 cross-cluster replication pair(s)",
		"# os-prod -> os-dr", "# logs -> logs-dr",
		"OpenSearch 2.19.1", "3/3 running", "follower's remote alias for the leader: acme_os-prod",
		"AIVEN_OS_PROD_PASSWORD", "AIVEN_TOKEN",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "search-ui") {
		t.Errorf("the cross-cluster-search integration shows:\n%s", out)
	}
	for _, secret := range []string{aivenPassword, f.Token} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("output shows a secret %q:\n%s%s", secret, out, errOut)
		}
	}

	// The whole output is a config: comments and pairs:.
	for _, s := range []string{"os-prod", "os-dr", "logs", "logs-dr"} {
		t.Setenv("AIVEN_"+strings.ToUpper(strings.ReplaceAll(s, "-", "_"))+"_PASSWORD", "pw")
	}
	cfg, err := config.Parse([]byte(out))
	if err != nil {
		t.Fatalf("discover's output is not a valid config: %v\n%s", err, out)
	}
	if len(cfg.Pairs) != 2 || cfg.Pairs[0].Name != "logs-to-logs-dr" || cfg.Pairs[1].Name != "os-prod-to-os-dr" {
		t.Fatalf("pairs = %+v", cfg.Pairs)
	}
	p := cfg.Pairs[1]
	if p.Follower.URL != "https://os-dr-acme.aivencloud.com:12345" || p.Follower.LeaderAlias != "acme_os-prod" ||
		p.Aiven == nil || p.Aiven.LeaderService != "os-prod" || p.Aiven.FollowerService != "os-dr" || p.Aiven.Token.Reveal() != f.Token {
		t.Errorf("pair = %+v", p)
	}
}

func TestAivenDiscoverJSON(t *testing.T) {
	aivenProject(t)
	code, out, errOut := run("aiven", "discover", "--project", "acme", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d struct {
		Project string
		Pairs   []struct {
			Integration struct {
				ID, Type, Status string
				Active           bool
			}
			Leader, Follower struct {
				Name, State, Plan, Version, URL string
				Nodes                           []struct{ Name, State string }
			}
			LeaderAlias string `json:"leader_alias"`
			Config      string
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if d.Project != "acme" || len(d.Pairs) != 2 {
		t.Fatalf("%+v", d)
	}
	p := d.Pairs[1]
	if p.Leader.Name != "os-prod" || p.Follower.Name != "os-dr" || p.Leader.State != "RUNNING" || p.Follower.Version != "2.19.1" ||
		p.Leader.Plan != "business-4" || len(p.Follower.Nodes) != 3 || p.LeaderAlias != "acme_os-prod" ||
		p.Integration.Type != "opensearch_cross_cluster_replication" || p.Integration.Status != "running" || !p.Integration.Active ||
		!strings.Contains(p.Config, "follower_service: os-dr") {
		t.Errorf("pair = %+v", p)
	}
	if strings.Contains(out, aivenPassword) {
		t.Error("JSON shows a service password")
	}
}

func TestAivenDiscoverErrors(t *testing.T) {
	f := aivenProject(t)
	if code, _, errOut := run("aiven", "discover"); code != cli.ExitUsage || !strings.Contains(errOut, "--project is required") {
		t.Errorf("no project: %d %s", code, errOut)
	}
	if code, _, _ := run("aiven", "list"); code != cli.ExitUsage {
		t.Errorf("unknown subcommand: %d", code)
	}
	t.Setenv("AIVEN_TOKEN", "")
	if code, _, errOut := run("aiven", "discover", "--project", "acme"); code != cli.ExitUsage || !strings.Contains(errOut, "set AIVEN_TOKEN") {
		t.Errorf("no token: %d %s", code, errOut)
	}
	t.Setenv("AIVEN_TOKEN", "revoked-token-93ab17")
	code, _, errOut := run("aiven", "discover", "--project", "acme")
	if code != cli.ExitFailure || !strings.Contains(errOut, "refused the token") || strings.Contains(errOut, "revoked-token-93ab17") {
		t.Errorf("bad token: %d %s", code, errOut)
	}
	t.Setenv("AIVEN_TOKEN", f.Token)
	f.Fail(http.MethodGet, "/service", http.StatusServiceUnavailable, 1, "0")
	if code, out, errOut := run("aiven", "discover", "--project", "acme"); code != cli.ExitOK || !strings.Contains(errOut, "retrying") || !strings.Contains(out, "2 cross-cluster") {
		t.Errorf("one 503: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := run("aiven", "discover", "--project", "nope"); code != cli.ExitFailure || !strings.Contains(errOut, "Project nope does not exist") {
		t.Errorf("unknown project: %d %s", code, errOut)
	}
}
