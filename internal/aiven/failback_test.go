package aiven_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

// promotedPair is os-prod (the old leader) and os-dr (promoted), with no
// integration between them, in the fake Aiven API (whose answers follow
// Aiven's API reference: see its package comment).
func promotedPair(t *testing.T, more ...string) *fakeaiven.Server {
	t.Helper()
	f := fakeaiven.New(t, "")
	for _, s := range append([]string{"os-prod", "os-dr"}, more...) {
		f.AddService(proj, fakeaiven.Service{Name: s, Version: "2.19.1", Password: password})
	}
	return f
}

func failedChecks(f aiven.Failback) []aiven.FailbackCheck {
	var out []aiven.FailbackCheck
	for _, c := range f.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func TestCheckFailbackPasses(t *testing.T) {
	f := promotedPair(t)
	fb := aiven.CheckFailback(context.Background(), newClient(t, fastOpts(f, nil)), proj, "os-dr", "os-prod")
	if !fb.Passed() || fb.Following != nil || fb.LeaderAlias != proj+"_os-dr" || len(fb.Checks) != 5 {
		t.Fatalf("failback = %+v", fb)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 (one per service)", n)
	}
}

func TestCheckFailbackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeaiven.Server)
		want  string
	}{
		{"old leader follows a third service", func(f *fakeaiven.Server) {
			f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "other", DestService: "os-prod"})
		}, "it already follows other through integration"},
		{"old leader leads a third service", func(f *fakeaiven.Server) {
			f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "other"})
		}, "os-prod leads other through integration"},
		{"promoted follows a third service", func(f *fakeaiven.Server) {
			f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "other", DestService: "os-dr"})
		}, "not promoted yet: it follows other"},
		{"promoted rebuilding", func(f *fakeaiven.Server) { f.SetState(proj, "os-dr", "REBUILDING") }, "it is REBUILDING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := promotedPair(t, "other")
			tc.setup(f)
			fb := aiven.CheckFailback(context.Background(), newClient(t, fastOpts(f, nil)), proj, "os-dr", "os-prod")
			failed := failedChecks(fb)
			if fb.Passed() || len(failed) != 1 || !strings.Contains(failed[0].Detail, tc.want) {
				t.Fatalf("failed checks = %+v, want one saying %q", failed, tc.want)
			}
		})
	}
}

func TestCheckFailbackServiceMissing(t *testing.T) {
	f := promotedPair(t)
	fb := aiven.CheckFailback(context.Background(), newClient(t, fastOpts(f, nil)), proj, "os-gone", "os-prod")
	failed := failedChecks(fb)
	if len(failed) != 2 || !strings.Contains(failed[0].Detail, "not found (HTTP 404)") || !strings.Contains(failed[1].Detail, "unknown") {
		t.Fatalf("failed checks = %+v", failed)
	}
}

// A create that answers 409 because the integration exists (an earlier
// attempt made it) waits on the one found, and says so.
func TestCreateFailbackFindsExisting(t *testing.T) {
	f := promotedPair(t)
	id := f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-dr", DestService: "os-prod"})
	c := newClient(t, fastOpts(f, nil))
	res, err := aiven.CreateFailback(context.Background(), c, aiven.Failback{Project: proj, Promoted: "os-dr", OldLeader: "os-prod"}, time.Millisecond)
	if err != nil || !res.Existed || res.Integration.ID != id || !res.Integration.Active {
		t.Fatalf("result = %+v, %v", res, err)
	}
}

func TestReversedSnippet(t *testing.T) {
	p := &config.Pair{Name: "orders", Indices: []string{"*"}, Policy: "prod",
		Leader:   config.Endpoint{URLs: []string{"https://a1:9200", "https://a2:9200"}, Username: "u", PasswordFile: "/etc/a", CAFile: "/etc/ca.pem"},
		Follower: config.Endpoint{URL: "https://b:9200", Username: "u", PasswordEnv: "B_PW", LeaderAlias: "acme_os-prod"},
		Aiven:    &config.Aiven{Project: "acme", LeaderService: "os-prod", FollowerService: "os-dr", TokenFile: "/etc/tok"}}
	s, err := aiven.ReversedSnippet(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `  - name: os-dr-to-os-prod
    leader:
      url: https://b:9200
      username: u
      password_env: B_PW
    follower:
      urls:
        - https://a1:9200
        - https://a2:9200
      username: u
      password_file: /etc/a
      ca_file: /etc/ca.pem
      leader_alias: acme_os-dr
    indices: ['*']
    aiven:
      project: acme
      leader_service: os-dr
      follower_service: os-prod
      token_file: /etc/tok
    policy: prod
`
	if s != want {
		t.Errorf("snippet:\n%s\nwant:\n%s", s, want)
	}
}
