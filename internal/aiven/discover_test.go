package aiven_test

import (
	"context"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

// twoPairs is a project with two CCR pairs and one unrelated integration
// (cross-cluster search, the type easily taken for replication).
func twoPairs(t *testing.T) *fakeaiven.Server {
	t.Helper()
	f := fakeaiven.New(t, "")
	for _, s := range []fakeaiven.Service{
		{Name: "os-prod", Version: "2.19.1"}, {Name: "os-dr", Version: "2.19.1"},
		{Name: "logs", Version: "2.17.0", Plan: "business-8"}, {Name: "logs-dr", Version: "2.17.0", Plan: "business-8", State: "REBUILDING"},
		{Name: "search-ui", Version: "2.19.1"},
	} {
		s.Password = password
		f.AddService(proj, s)
	}
	f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "logs", DestService: "logs-dr"})
	f.AddIntegration(proj, fakeaiven.Integration{Type: "opensearch_cross_cluster_search", SourceService: "os-prod", DestService: "search-ui"})
	return f
}

func TestDiscover(t *testing.T) {
	f := twoPairs(t)
	c := newClient(t, fastOpts(f, nil))
	d, err := aiven.Discover(context.Background(), c, proj)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Pairs) != 2 {
		t.Fatalf("pairs = %+v, want the two CCR integrations only", d.Pairs)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("discovery made %d requests, want 1 (the service list carries the integrations)", n)
	}
	logs, prod := d.Pairs[0], d.Pairs[1]
	if prod.Leader.Name != "os-prod" || prod.Follower.Name != "os-dr" || prod.LeaderAlias != "acme_os-prod" {
		t.Errorf("pair 2 = %+v", prod)
	}
	if logs.Leader.Name != "logs" || logs.Follower.Name != "logs-dr" || logs.Follower.State != "REBUILDING" || logs.Leader.Plan != "business-8" || logs.Leader.Version != "2.17.0" {
		t.Errorf("pair 1 = %+v", logs)
	}
	if len(prod.Notes) != 0 {
		t.Errorf("a healthy pair has notes: %v", prod.Notes)
	}
	if !strings.Contains(strings.Join(logs.Notes, "\n"), "follower logs-dr is REBUILDING") {
		t.Errorf("notes = %v", logs.Notes)
	}

	// Every snippet, under pairs:, is a valid config once its
	// environment is set.
	t.Setenv("AIVEN_TOKEN", "tok")
	for _, s := range []string{"os-prod", "os-dr", "logs", "logs-dr"} {
		t.Setenv(aiven.PasswordEnv(s), "pw")
	}
	cfg, err := config.Parse([]byte("pairs:\n" + prod.Config + logs.Config))
	if err != nil {
		t.Fatalf("snippets do not parse: %v\n%s%s", err, prod.Config, logs.Config)
	}
	p, ok := cfg.Pair("os-prod-to-os-dr")
	if !ok {
		t.Fatalf("pairs = %+v", cfg.Pairs)
	}
	if p.Leader.URL != "https://os-prod-acme.aivencloud.com:12345" || p.Follower.LeaderAlias != "acme_os-prod" || p.Follower.Username != "avnadmin" ||
		p.Aiven.Project != proj || p.Aiven.LeaderService != "os-prod" || p.Aiven.FollowerService != "os-dr" || p.Aiven.TokenEnv != "AIVEN_TOKEN" {
		t.Errorf("parsed pair = %+v aiven %+v", p, p.Aiven)
	}
	if strings.Contains(prod.Config+logs.Config, password) {
		t.Error("a snippet contains a service password")
	}
}

func TestSnippetWithoutAddress(t *testing.T) {
	s := aiven.Snippet(proj, aiven.Pair{Leader: aiven.Service{Name: "a"}, Follower: aiven.Service{Name: "B.x"}, LeaderAlias: "acme_a"})
	for _, want := range []string{"name: a-to-b-x\n", `url: ""`, "fill in a's https address", "password_env: AIVEN_B_X_PASSWORD"} {
		if !strings.Contains(s, want) {
			t.Errorf("snippet lacks %q:\n%s", want, s)
		}
	}
}
