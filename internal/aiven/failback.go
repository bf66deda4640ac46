package aiven

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/drwatch/drwatch/internal/config"
)

// Failback is making the old leader of a promoted Aiven pair a follower of
// the promoted service: creating an opensearch_cross_cluster_replication
// integration whose source is the promoted service (the pair's
// follower_service) and whose destination is the old leader (its
// leader_service). Aiven allows it since mid-2026 (docs/aiven.md, "What
// promote to standalone is"). drwatch never does it by itself: `drwatch aiven
// follow` does it on a human's word, after CheckFailback.

// FailbackCheck is one check of CheckFailback: what was checked, whether
// it passed, and why.
type FailbackCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Failback is what CheckFailback found.
type Failback struct {
	Project string `json:"project"`
	// Promoted is the promoted service (the pair's follower_service): the
	// leader after the failback.
	Promoted string `json:"promoted_service"`
	// OldLeader is the old leader (the pair's leader_service): the
	// follower after the failback.
	OldLeader string `json:"old_leader_service"`
	// LeaderAlias is the remote alias the integration creates on the old
	// leader for the promoted service (FailbackAlias).
	LeaderAlias string          `json:"leader_alias"`
	Checks      []FailbackCheck `json:"checks"`
	// Following is the CCR integration Promoted -> OldLeader when it
	// exists already: the failback was done.
	Following *Integration `json:"following,omitempty"`
}

// Passed reports whether every check passed.
func (f Failback) Passed() bool {
	for _, c := range f.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (f *Failback) add(ok bool, name, detail string, args ...any) {
	f.Checks = append(f.Checks, FailbackCheck{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
}

// FailbackAlias is the remote alias a CCR integration promoted -> old
// leader creates on the old leader: <project>_<promoted service>, as for
// any follower (docs/aiven.md "What promote to standalone is":
// <leader project>_<leader service>).
func FailbackAlias(project, promoted string) string { return project + "_" + promoted }

// CheckFailback reads both services (two requests: each service's answer
// lists its integrations) and checks that the old leader can be made a
// follower of the promoted service: the promoted service runs and follows
// nothing (it was promoted); the old leader runs (it is back), follows
// nothing, or already follows the promoted service (Following: nothing
// left to do), and leads nothing (Aiven's CCR does not let a follower lead
// another pairing, ccr-best-practices-opensearch; a leftover integration
// old leader -> promoted means the pair was not promoted). An API failure
// is a failed check with the error's words, never a pass. It changes
// nothing.
func CheckFailback(ctx context.Context, c *Client, project, promoted, oldLeader string) Failback {
	f := Failback{Project: project, Promoted: promoted, OldLeader: oldLeader, LeaderAlias: FailbackAlias(project, promoted)}
	inProject := func(p string) bool { return p == "" || p == project }

	// The promoted service.
	name := fmt.Sprintf("promoted service %s is RUNNING", promoted)
	ps, err := c.GetService(ctx, project, promoted)
	switch {
	case err != nil:
		f.add(false, name, "%v", err)
	case ps.State != StateRunning:
		f.add(false, name, "it is %s", ps.State)
	default:
		f.add(true, name, "RUNNING, %s", nodeCount(ps.Nodes))
	}
	name = fmt.Sprintf("%s is promoted (the destination of no cross-cluster replication integration)", promoted)
	if err != nil {
		f.add(false, name, "unknown: the service could not be read")
	} else if in, ok := findCCR(ps.Integrations, func(in Integration) bool {
		return in.DestService == promoted && inProject(in.DestProject)
	}); ok {
		if in.SourceService == oldLeader && inProject(in.SourceProject) {
			f.add(false, name, "not promoted yet: the pair's integration %s (%s -> %s) still exists: refusing", in.ID, oldLeader, promoted)
		} else {
			f.add(false, name, "not promoted yet: it follows %s through integration %s: refusing", qualified(in.SourceProject, in.SourceService, project), in.ID)
		}
	} else {
		f.add(true, name, "no integration makes it a follower")
	}

	// The old leader.
	name = fmt.Sprintf("old leader service %s is RUNNING (the old leader is back)", oldLeader)
	ls, err := c.GetService(ctx, project, oldLeader)
	switch {
	case err != nil:
		f.add(false, name, "%v", err)
	case ls.State != StateRunning:
		f.add(false, name, "it is %s: the old leader is not back: refusing", ls.State)
	default:
		f.add(true, name, "RUNNING, %s", nodeCount(ls.Nodes))
	}
	name = fmt.Sprintf("%s follows no other service", oldLeader)
	if err != nil {
		f.add(false, name, "unknown: the service could not be read")
	} else if in, ok := findCCR(ls.Integrations, func(in Integration) bool {
		return in.DestService == oldLeader && inProject(in.DestProject)
	}); ok {
		if in.SourceService == promoted && inProject(in.SourceProject) {
			f.Following = &in
			f.add(true, name, "it already follows %s through integration %s (active %t, status %s): nothing to create", promoted, in.ID, in.Active, orUnknown(in.Status))
		} else {
			f.add(false, name, "it already follows %s through integration %s: delete that integration first", qualified(in.SourceProject, in.SourceService, project), in.ID)
		}
	} else {
		f.add(true, name, "no integration makes it a follower")
	}
	name = fmt.Sprintf("no cross-cluster replication integration goes the reverse direction (%s -> %s) or from %s elsewhere", oldLeader, promoted, oldLeader)
	if err != nil {
		f.add(false, name, "unknown: the service could not be read")
	} else if in, ok := findCCR(ls.Integrations, func(in Integration) bool {
		return in.SourceService == oldLeader && inProject(in.SourceProject)
	}); ok {
		if in.DestService == promoted && inProject(in.DestProject) {
			f.add(false, name, "the pair's integration %s (%s -> %s) still exists: not promoted yet: refusing", in.ID, oldLeader, promoted)
		} else {
			f.add(false, name, "%s leads %s through integration %s: Aiven's cross-cluster replication does not let a follower lead another pairing", oldLeader, qualified(in.DestProject, in.DestService, project), in.ID)
		}
	} else {
		f.add(true, name, "none")
	}
	return f
}

func findCCR(ints []Integration, match func(Integration) bool) (Integration, bool) {
	for _, in := range ints {
		if in.IsCCR() && match(in) {
			return in, true
		}
	}
	return Integration{}, false
}

func qualified(svcProject, name, project string) string {
	if svcProject == "" || svcProject == project {
		return name
	}
	return svcProject + "/" + name
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func nodeCount(nodes []Node) string {
	running := 0
	for _, n := range nodes {
		if n.State == "running" {
			running++
		}
	}
	return fmt.Sprintf("%d/%d nodes running", running, len(nodes))
}

// FailbackResult is what CreateFailback did.
type FailbackResult struct {
	Integration Integration `json:"integration"`
	// Existed: the create answered 409 "already exists" and the
	// integration promoted -> old leader was found: an earlier attempt
	// (a create whose answer was lost and that the client retried) made it.
	Existed bool `json:"existed,omitempty"`
	// Waited is how long it took to become active after the create.
	Waited time.Duration `json:"-"`
}

// CreateFailback creates the CCR integration f.Promoted -> f.OldLeader
// (one call, with the client's bounded retries and nothing more) and waits
// until the API shows it active (WaitActive). A failed create comes back
// as the client's classified *Error.
func CreateFailback(ctx context.Context, c *Client, f Failback, poll time.Duration) (FailbackResult, error) {
	start := time.Now()
	var res FailbackResult
	in, err := c.CreateIntegration(ctx, f.Project, NewIntegration{Type: IntegrationTypeCCR, SourceService: f.Promoted, DestService: f.OldLeader})
	if ClassOf(err) == ClassConflict {
		// Found again, it is ours; not found, the 409 stands.
		ints, lerr := c.ServiceIntegrations(ctx, f.Project, f.OldLeader)
		if lerr == nil {
			if found, ok := findCCR(ints, func(i Integration) bool {
				return i.SourceService == f.Promoted && i.DestService == f.OldLeader
			}); ok {
				in, err, res.Existed = found, nil, true
			}
		}
	}
	if err != nil {
		return res, err
	}
	res.Integration = in
	if !in.Active {
		var last Integration
		last, err = WaitActive(ctx, c, f.Project, in.ID, poll)
		if last.ID != "" {
			res.Integration = last
		}
	}
	res.Waited = time.Since(start)
	return res, err
}

// WaitActive reads the integration every poll until it is active, its
// status is failed, ctx ends, or a read fails for another reason than 404
// (a fresh integration answers 404 for a moment, and active false at first:
// docs/aiven.md "REST shapes"). It returns the last integration read.
func WaitActive(ctx context.Context, c *Client, project, id string, poll time.Duration) (Integration, error) {
	start := time.Now()
	var last Integration
	seen := false
	for {
		in, err := c.GetIntegration(ctx, project, id)
		switch {
		case err == nil:
			last, seen = in, true
			if in.Active {
				return in, nil
			}
			if in.Status == "failed" {
				return in, fmt.Errorf("aiven: integration %s in project %s failed: %s", id, project, describeFailure(in))
			}
		case IsNotFound(err):
			// Not visible yet.
		case ctx.Err() != nil:
			return last, waitTimeout(ctx, id, project, start, last, seen)
		default:
			return last, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, waitTimeout(ctx, id, project, start, last, seen)
		case <-t.C:
		}
	}
}

// ErrNotActive is wrapped by WaitActive's error when ctx ends first.
var ErrNotActive = errors.New("the integration is not active yet")

func waitTimeout(ctx context.Context, id, project string, start time.Time, last Integration, seen bool) error {
	state := "the API still answers 404 for it (not visible yet)"
	if seen {
		state = fmt.Sprintf("last read: active %t, status %s", last.Active, orUnknown(last.Status))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		state = "the wait was canceled; " + state
	}
	waited := time.Since(start)
	if waited >= time.Second {
		waited = waited.Round(time.Second)
	} else {
		waited = waited.Round(time.Millisecond)
	}
	return fmt.Errorf("aiven: integration %s in project %s: %w after %s: %s", id, project, ErrNotActive, waited, state)
}

func describeFailure(in Integration) string {
	parts := []string{}
	if in.StatusDesc != "" {
		parts = append(parts, in.StatusDesc)
	}
	parts = append(parts, in.Errors...)
	if len(parts) == 0 {
		return "status failed"
	}
	return strings.Join(parts, "; ")
}

// snippetEndpoint is an endpoint as a config file writes it.
type snippetEndpoint struct {
	URL                string   `yaml:"url,omitempty"`
	URLs               []string `yaml:"urls,omitempty"`
	Username           string   `yaml:"username,omitempty"`
	PasswordFile       string   `yaml:"password_file,omitempty"`
	PasswordEnv        string   `yaml:"password_env,omitempty"`
	CAFile             string   `yaml:"ca_file,omitempty"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify,omitempty"`
	LeaderAlias        string   `yaml:"leader_alias,omitempty"`
}

type snippetAiven struct {
	Project         string `yaml:"project"`
	LeaderService   string `yaml:"leader_service"`
	FollowerService string `yaml:"follower_service"`
	TokenEnv        string `yaml:"token_env,omitempty"`
	TokenFile       string `yaml:"token_file,omitempty"`
	APIURL          string `yaml:"api_url,omitempty"`
}

type snippetPair struct {
	Name                   string          `yaml:"name"`
	Leader                 snippetEndpoint `yaml:"leader"`
	Follower               snippetEndpoint `yaml:"follower"`
	Indices                []string        `yaml:"indices,flow"`
	Aiven                  snippetAiven    `yaml:"aiven"`
	Policy                 string          `yaml:"policy,omitempty"`
	AllowDestructiveDrills bool            `yaml:"allow_destructive_drills,omitempty"`
}

func endpointOf(ep config.Endpoint, alias string) snippetEndpoint {
	return snippetEndpoint{URL: ep.URL, URLs: ep.URLs, Username: ep.Username, PasswordFile: ep.PasswordFile,
		PasswordEnv: ep.PasswordEnv, CAFile: ep.CAFile, InsecureSkipVerify: ep.InsecureSkipVerify, LeaderAlias: alias}
}

// ReversedName is the reversed pair's name: <promoted>-to-<old leader>, as
// discovery names a pair. A new name, not the old pair's: that pair's
// journal records its promotion, and a promoted pair is never promoted
// again.
func ReversedName(a *config.Aiven) string { return pairName(a.FollowerService, a.LeaderService) }

// ReversedSnippet is a pairs[] entry (YAML, indented to go under "pairs:")
// for the pair after the failback: p's leader and follower endpoints
// swapped, the old leader's leader_alias the integration's alias, the
// services swapped in the aiven block, the same indices, policy, token
// and credentials' sources (never their values).
func ReversedSnippet(p *config.Pair) (string, error) {
	if p.Aiven == nil {
		return "", errors.New("aiven: the pair has no aiven block")
	}
	a := p.Aiven
	rev := snippetPair{
		Name:     ReversedName(a),
		Leader:   endpointOf(p.Follower, ""),
		Follower: endpointOf(p.Leader, FailbackAlias(a.Project, a.FollowerService)),
		Indices:  p.Indices,
		Aiven: snippetAiven{Project: a.Project, LeaderService: a.FollowerService, FollowerService: a.LeaderService,
			TokenEnv: a.TokenEnv, TokenFile: a.TokenFile, APIURL: a.APIURL},
		Policy:                 p.Policy,
		AllowDestructiveDrills: p.AllowDestructiveDrills,
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode([]snippetPair{rev}); err != nil {
		return "", fmt.Errorf("aiven: render the reversed pair: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("aiven: render the reversed pair: %w", err)
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			out.WriteString("  " + line)
		}
	}
	return out.String(), nil
}
