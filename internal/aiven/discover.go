package aiven

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Pair is one CCR pair found in a project: the source (leader) and
// destination (follower) of an opensearch_cross_cluster_replication
// integration.
type Pair struct {
	Integration Integration `json:"integration"`
	Leader      Service     `json:"leader"`
	Follower    Service     `json:"follower"`
	// LeaderAlias is the remote-cluster alias the integration creates on
	// the follower: <leader project>_<leader service> (docs/aiven.md,
	// "What promote to standalone is").
	LeaderAlias string `json:"leader_alias"`
	// Notes are what discovery could not fill in or what needs care.
	Notes []string `json:"notes,omitempty"`
	// Config is a pairs[] entry for drwatch's config (YAML).
	Config string `json:"config"`
}

// Discovery is what Discover found in a project.
type Discovery struct {
	Project string `json:"project"`
	APIURL  string `json:"api_url"`
	Pairs   []Pair `json:"pairs"`
}

// Discover lists the project's CCR pairs: one request for the services
// (each carries its integrations), and one per leader that lives in
// another project. Integrations of other types are ignored.
func Discover(ctx context.Context, c *Client, project string) (Discovery, error) {
	d := Discovery{Project: project, APIURL: c.APIURL(), Pairs: []Pair{}}
	svcs, err := c.ListServices(ctx, project)
	if err != nil {
		return d, err
	}
	byName := map[string]Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	for _, in := range uniqueIntegrations(svcs) {
		if !in.IsCCR() {
			continue
		}
		if in.DestProject != "" && in.DestProject != project {
			continue // the follower is in another project: that project's pair
		}
		if in.SourceProject == "" {
			in.SourceProject = project
		}
		p := Pair{Integration: in, LeaderAlias: in.SourceProject + "_" + in.SourceService}
		p.Follower = lookup(byName, project, in.DestProject, in.DestService)
		p.Leader = lookup(byName, project, in.SourceProject, in.SourceService)
		if in.SourceProject != "" && in.SourceProject != project {
			// The leader lives in another project: read it there (the
			// token may not reach it; say so and go on).
			if s, err := c.GetService(ctx, in.SourceProject, in.SourceService); err == nil {
				p.Leader = s
			} else {
				p.Notes = append(p.Notes, fmt.Sprintf("leader %s/%s: %v", in.SourceProject, in.SourceService, err))
			}
			p.Notes = append(p.Notes, fmt.Sprintf("the leader is in project %s, the follower in %s: drwatch's aiven block names one project (the follower's, where the integration is deleted)", in.SourceProject, project))
		}
		p.Notes = append(p.Notes, pairNotes(p)...)
		p.Config = Snippet(project, p)
		d.Pairs = append(d.Pairs, p)
	}
	sort.Slice(d.Pairs, func(i, j int) bool {
		a, b := d.Pairs[i], d.Pairs[j]
		if a.Follower.Name != b.Follower.Name {
			return a.Follower.Name < b.Follower.Name
		}
		return a.Integration.ID < b.Integration.ID
	})
	return d, nil
}

func lookup(byName map[string]Service, project, svcProject, name string) Service {
	if svcProject == "" {
		svcProject = project
	}
	if s, ok := byName[name]; ok && svcProject == project {
		return s
	}
	return Service{Project: svcProject, Name: name}
}

// pairNotes names what an operator should look at before trusting the pair.
func pairNotes(p Pair) []string {
	var n []string
	for _, s := range []struct {
		role string
		svc  Service
	}{{"leader", p.Leader}, {"follower", p.Follower}} {
		if s.svc.URL == "" {
			n = append(n, fmt.Sprintf("the API gave no address for the %s %s: fill in its url", s.role, s.svc.Name))
		}
		if s.svc.State != "" && s.svc.State != StateRunning {
			n = append(n, fmt.Sprintf("the %s %s is %s, not RUNNING", s.role, s.svc.Name, s.svc.State))
		}
	}
	if p.Leader.Version != "" && p.Follower.Version != "" && p.Leader.Version != p.Follower.Version {
		n = append(n, fmt.Sprintf("versions differ (leader %s, follower %s): Aiven's CCR needs the same OpenSearch version", p.Leader.Version, p.Follower.Version))
	}
	if !p.Integration.Active {
		n = append(n, "the integration is not active yet")
	}
	return n
}

// Snippet renders a pairs[] entry of drwatch's config for a discovered
// pair: the services' addresses, their user, a password environment
// variable per service, the follower's leader_alias as the integration
// names it, and the aiven block. It is YAML, indented to go under
// "pairs:".
func Snippet(project string, p Pair) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n", pairName(p.Leader.Name, p.Follower.Name))
	endpoint := func(role string, s Service, alias string) {
		fmt.Fprintf(&b, "    %s:\n", role)
		if s.URL != "" {
			fmt.Fprintf(&b, "      url: %s\n", s.URL)
		} else {
			fmt.Fprintf(&b, "      url: \"\"                       # not given by the Aiven API: fill in %s's https address\n", s.Name)
		}
		user := s.Username
		if user == "" {
			user = "avnadmin"
		}
		fmt.Fprintf(&b, "      username: %s\n", user)
		fmt.Fprintf(&b, "      password_env: %s\n", PasswordEnv(s.Name))
		if alias != "" {
			fmt.Fprintf(&b, "      leader_alias: %s\n", alias)
		}
	}
	endpoint("leader", p.Leader, "")
	endpoint("follower", p.Follower, p.LeaderAlias)
	b.WriteString("    indices: [\"*\"]\n")
	b.WriteString("    aiven:\n")
	fmt.Fprintf(&b, "      project: %s\n", project)
	fmt.Fprintf(&b, "      leader_service: %s\n", p.Leader.Name)
	fmt.Fprintf(&b, "      follower_service: %s\n", p.Follower.Name)
	fmt.Fprintf(&b, "      token_env: %s\n", EnvToken)
	return b.String()
}

var nonName = regexp.MustCompile(`[^a-z0-9_-]+`)

// pairName is a config pair name (lower-case letters, digits, - and _, at
// most 63) for leader -> follower.
func pairName(leader, follower string) string {
	n := nonName.ReplaceAllString(strings.ToLower(leader+"-to-"+follower), "-")
	n = strings.TrimLeft(n, "-_")
	if len(n) > 63 {
		n = n[:63]
	}
	if n == "" {
		n = "aiven-pair"
	}
	return n
}

var nonEnv = regexp.MustCompile(`[^A-Z0-9_]+`)

// PasswordEnv is the environment variable a snippet names for a service's
// password: AIVEN_<SERVICE>_PASSWORD.
func PasswordEnv(serviceName string) string {
	return "AIVEN_" + nonEnv.ReplaceAllString(strings.ToUpper(serviceName), "_") + "_PASSWORD"
}
