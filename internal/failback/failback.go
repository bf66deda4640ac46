// Package failback makes the old leader of a promoted Aiven pair a
// follower of the promoted service (`drwatch aiven follow`): the checks
// (Aiven's and OpenSearch's: the old leader answers, no stale copy of a
// promoted index on it), the plan, the integration's create and wait, and
// the next steps a human takes. It reads OpenSearch and never writes it;
// it never deletes data and never starts replication itself.
package failback

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/buildinfo"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/report"
)

// Outcomes of a failback (`drwatch aiven follow`; the JSON's "outcome").
const (
	Refused          = "refused"           // a check failed; nothing was changed
	AlreadyFollowing = "already_following" // the integration exists; nothing was changed
	DryRun           = "dry_run"           // plan shown; nothing was changed
	NotConfirmed     = "not_confirmed"     // the operator declined; nothing was changed
	Failed           = "failed"            // the create failed, or the integration did not become active in time
	Created          = "created"           // the integration was created and is active
)

// Report is what a failback found and did (`drwatch aiven follow --json`
// prints it).
type Report struct {
	Pair string `json:"pair"`
	aiven.Failback
	// Indices are the promoted side's indices in scope that the old
	// leader would replicate; SkippedIndices the dot-prefixed ones left
	// out because no pattern starting with a dot names them (system
	// indices: autofollow "*" skips them too).
	Indices        []string `json:"indices"`
	SkippedIndices []string `json:"skipped_indices,omitempty"`
	// StaleIndices exist on the old leader under the name of a promoted
	// index and are not replicating from it: they block _start.
	StaleIndices []string `json:"stale_indices"`
	// ReplicatingIndices on the old leader already follow the promoted
	// service's alias.
	ReplicatingIndices []string           `json:"replicating_indices,omitempty"`
	Plan               []string           `json:"plan,omitempty"`
	Outcome            string             `json:"outcome"`
	Integration        *aiven.Integration `json:"integration,omitempty"`
	Existed            bool               `json:"integration_existed,omitempty"`
	WaitedSeconds      float64            `json:"waited_seconds,omitempty"`
	Error              string             `json:"error,omitempty"`
	Next               *Next              `json:"next_steps,omitempty"`
}

// Next is what a human does after the integration exists: start
// replication on the old leader, and give drwatch the reversed pair.
type Next struct {
	// LeaderAlias is the remote alias Aiven creates on the old leader for
	// the promoted service.
	LeaderAlias string `json:"leader_alias"`
	// RunOn is the old leader's OpenSearch, where the commands go.
	RunOn string `json:"run_on"`
	// Autofollow are curl commands creating one autofollow rule per
	// pattern (none when a pattern is an exclusion); Start are curl
	// commands starting replication per index. Either, not both.
	Autofollow []string `json:"autofollow,omitempty"`
	Start      []string `json:"start,omitempty"`
	// PairName and Config are the reversed pair's entry of pairs:.
	PairName string   `json:"pair_name"`
	Config   string   `json:"config"`
	Reload   string   `json:"reload"`
	Notes    []string `json:"notes,omitempty"`
}

// CallTimeout bounds each OpenSearch read of the checks.
const CallTimeout = 30 * time.Second

// CheckIndices adds the OpenSearch checks: the old leader answers, the
// promoted side's indices in scope can be listed, and none of them has a
// stale copy on the old leader (an index of the same name that is not a
// follower of the promoted service: it diverged, and _start of that name
// would fail). It reads; it never writes.
func CheckIndices(ctx context.Context, p *config.Pair, r *Report) {
	alias := r.LeaderAlias
	oldURL, promotedURL := p.Leader.BaseURL(), p.Follower.BaseURL()
	add := func(ok bool, name, detail string, args ...any) {
		r.Checks = append(r.Checks, aiven.FailbackCheck{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
	}
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		defer cancel()
		return f(cctx)
	}
	opts := opensearch.Options{Retry: true, UserAgent: "drwatch/" + buildinfo.Version}

	oldName := fmt.Sprintf("the old leader's OpenSearch answers (%s)", oldURL)
	old, err := opensearch.New(p.Leader, opts.WithSide("leader"))
	if err == nil {
		err = call(func(ctx context.Context) error {
			h, err := old.ClusterHealth(ctx)
			if err == nil {
				add(true, oldName, "health %s", h.Status)
			}
			return err
		})
	}
	oldOK := err == nil
	if !oldOK {
		add(false, oldName, "%v", err)
	}

	listName := fmt.Sprintf("the promoted side's indices in scope %v can be listed (%s)", p.Indices, promotedURL)
	var names []string
	promoted, err := opensearch.New(p.Follower, opts.WithSide("follower"))
	if err == nil {
		err = call(func(ctx context.Context) (err error) {
			names, err = promoted.IndexNames(ctx, p.Indices)
			return err
		})
	}
	listOK := err == nil
	if !listOK {
		add(false, listName, "%v", err)
	} else {
		for _, n := range names {
			if strings.HasPrefix(n, ".") && !dotPatternMatches(p.Indices, n) {
				r.SkippedIndices = append(r.SkippedIndices, n)
			} else {
				r.Indices = append(r.Indices, n)
			}
		}
		detail := fmt.Sprintf("%d: %s", len(r.Indices), report.Short(r.Indices))
		if len(r.Indices) == 0 {
			detail = "none yet: replication will have nothing to start until indices exist"
		}
		if len(r.SkippedIndices) > 0 {
			detail += fmt.Sprintf("; %d dot-prefixed indices left out, matched by no pattern starting with a dot (%s)", len(r.SkippedIndices), report.Short(r.SkippedIndices))
		}
		add(true, listName, "%s", detail)
	}

	staleName := "no stale copy of a promoted index on the old leader"
	switch {
	case !oldOK || !listOK:
		add(false, staleName, "unknown: the old leader or the promoted side could not be read")
		return
	case len(r.Indices) == 0:
		add(true, staleName, "no promoted index in scope")
		return
	}
	var existing []string
	var following map[string]opensearch.FollowerIndex
	err = call(func(ctx context.Context) (err error) {
		if existing, err = old.IndexNames(ctx, r.Indices); err != nil || len(existing) == 0 {
			return err
		}
		following, err = old.FollowerIndices(ctx, existing)
		return err
	})
	if err != nil {
		add(false, staleName, "unknown: %v", err)
		return
	}
	for _, n := range existing {
		if f, ok := following[n]; ok && f.LeaderAlias == alias && f.LeaderIndex == n {
			r.ReplicatingIndices = append(r.ReplicatingIndices, n)
		} else {
			r.StaleIndices = append(r.StaleIndices, n)
		}
	}
	if len(r.StaleIndices) > 0 {
		add(false, staleName, "%d of the %d promoted indices also exist on the old leader and do not replicate from %s: %s. "+
			"They diverge from the promoted copies and would block replication's _start: delete or rename them by hand first "+
			"(snapshot them if their writes matter); drwatch never deletes data",
			len(r.StaleIndices), len(r.Indices), alias, strings.Join(r.StaleIndices, ", "))
		return
	}
	detail := "none of the promoted indices exists on the old leader"
	if len(r.ReplicatingIndices) > 0 {
		detail = fmt.Sprintf("%d already replicate from %s: %s", len(r.ReplicatingIndices), alias, report.Short(r.ReplicatingIndices))
	}
	add(true, staleName, "%s", detail)
}

// dotPatternMatches reports whether a pattern that starts with a dot
// matches name: a dot-prefixed index is in scope only when the pair names
// it so (autofollow "*" skips dot-prefixed indices too).
func dotPatternMatches(patterns []string, name string) bool {
	for _, pat := range patterns {
		if strings.HasPrefix(pat, ".") {
			if m, _ := path.Match(pat, name); m {
				return true
			}
		}
	}
	return false
}

// NextSteps are the commands and the config a human needs once the
// integration exists. Commands carry no credential: $OS_USER and
// $OS_PASSWORD stand for the old leader's.
func NextSteps(cfg *config.Config, p *config.Pair, r *Report) (*Next, error) {
	snippet, err := aiven.ReversedSnippet(p)
	if err != nil {
		return nil, err
	}
	alias := r.LeaderAlias
	base := p.Leader.BaseURL()
	n := &Next{LeaderAlias: alias, RunOn: base, PairName: aiven.ReversedName(p.Aiven), Config: snippet,
		Reload: fmt.Sprintf("replace pair %s in the config with %s below, then reload drwatch: kill -HUP <pid>, or curl -X POST %s/-/reload",
			p.Name, aiven.ReversedName(p.Aiven), cfg.URL())}
	curl := func(method, path string, body map[string]string) string {
		b, _ := json.Marshal(body)
		return fmt.Sprintf(`curl -sS -u "$OS_USER:$OS_PASSWORD" -X %s %s -H 'Content-Type: application/json' -d %s`,
			method, shellQuote(base+path), shellQuote(string(b)))
	}
	exclusions := slices.ContainsFunc(p.Indices, func(s string) bool { return strings.HasPrefix(s, "-") })
	if exclusions {
		n.Notes = append(n.Notes, fmt.Sprintf("the pair's indices %v hold exclusions, which an autofollow rule's pattern cannot express: start replication per index", p.Indices))
	} else {
		for i, pat := range p.Indices {
			name := "drwatch-failback"
			if len(p.Indices) > 1 {
				name = fmt.Sprintf("drwatch-failback-%d", i+1)
			}
			n.Autofollow = append(n.Autofollow, curl("POST", "/_plugins/_replication/_autofollow",
				map[string]string{"leader_alias": alias, "name": name, "pattern": pat}))
		}
	}
	replicating := map[string]bool{}
	for _, ix := range r.ReplicatingIndices {
		replicating[ix] = true
	}
	for _, ix := range r.Indices {
		if !replicating[ix] {
			n.Start = append(n.Start, curl("PUT", "/_plugins/_replication/"+url.PathEscape(ix)+"/_start",
				map[string]string{"leader_alias": alias, "leader_index": ix}))
		}
	}
	if len(r.SkippedIndices) > 0 {
		n.Notes = append(n.Notes, fmt.Sprintf("dot-prefixed indices matched by no pattern starting with a dot are left out (%s): start them by hand if they must replicate", report.Short(r.SkippedIndices)))
	}
	n.Notes = append(n.Notes, "with the security plugin, add \"use_roles\" to the bodies if your replication roles need it (OpenSearch's replication API)")
	return n, nil
}

// PrintNext prints the next steps; lead prefixes the first one (a dry run
// says "after the integration is created, ").
func PrintNext(w io.Writer, n *Next, lead string) {
	if n == nil {
		return
	}
	fmt.Fprintln(w, "\nnext steps, by hand:")
	fmt.Fprintf(w, "  1. %sthe old leader has the remote alias %s for the promoted service (GET _remote/info on %s shows it)\n", lead, n.LeaderAlias, n.RunOn)
	fmt.Fprintf(w, "  2. start replication on the old leader (%s), $OS_USER and $OS_PASSWORD being its credentials; either\n", n.RunOn)
	if len(n.Autofollow) > 0 {
		fmt.Fprintln(w, "     one autofollow rule per index pattern (the matching indices, and those created later):")
		for _, c := range n.Autofollow {
			fmt.Fprintf(w, "       %s\n", c)
		}
		fmt.Fprintln(w, "     or _start per index:")
	}
	if len(n.Start) == 0 {
		fmt.Fprintln(w, "       (no index to start now)")
	}
	for _, c := range n.Start {
		fmt.Fprintf(w, "       %s\n", c)
	}
	for _, note := range n.Notes {
		fmt.Fprintf(w, "     note: %s\n", note)
	}
	fmt.Fprintf(w, "  3. %s:\n", n.Reload)
	fmt.Fprintf(w, "pairs:\n%s", n.Config)
}

// CreateOutcomeKnown reports whether a failed create certainly created
// nothing: Aiven answered it with a refusal. A timeout, a lost
// connection or a server error after the retries may hide a create that
// took effect.
func CreateOutcomeKnown(err error) bool {
	switch aiven.ClassOf(err) {
	case aiven.ClassUnauthorized, aiven.ClassForbidden, aiven.ClassNotFound, aiven.ClassConflict, aiven.ClassRejected:
		return true
	}
	return false
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Tuning is what tests shorten: how often the new integration is read
// while it settles, and the Aiven client's first retry wait (0: the
// client's default).
type Tuning struct {
	Poll         time.Duration
	RetryWaitMin time.Duration
}

// Client is the Aiven API client of pair p's failback.
func Client(p *config.Pair, log *zap.Logger, tune Tuning) (*aiven.Client, error) {
	return aiven.ForPair(p.Aiven, aiven.Options{Log: log, UserAgent: "drwatch/" + buildinfo.Version,
		RetryWaitMin: tune.RetryWaitMin, RetryWaitMax: 2 * tune.RetryWaitMin})
}

// Check runs every check of pair p's failback into a new report: Aiven's
// side (aiven.CheckFailback), then OpenSearch's (CheckIndices).
func Check(ctx context.Context, client *aiven.Client, p *config.Pair) *Report {
	a := p.Aiven
	r := &Report{Pair: p.Name, Indices: []string{}, StaleIndices: []string{}}
	r.Failback = aiven.CheckFailback(ctx, client, a.Project, a.FollowerService, a.LeaderService)
	CheckIndices(ctx, p, r)
	return r
}

// Recheck reads Aiven's side again (the confirmation may have waited
// long): ok when it still passes and nothing follows yet.
func Recheck(ctx context.Context, client *aiven.Client, p *config.Pair) (aiven.Failback, bool) {
	a := p.Aiven
	again := aiven.CheckFailback(ctx, client, a.Project, a.FollowerService, a.LeaderService)
	return again, again.Passed() && again.Following == nil
}

// Plan is what the failback will do, in words.
func Plan(p *config.Pair, timeout time.Duration) []string {
	a := p.Aiven
	return []string{
		fmt.Sprintf("create an %s integration in project %s: source %s (promoted, the new leader) -> destination %s (old leader, the new follower)", aiven.IntegrationTypeCCR, a.Project, a.FollowerService, a.LeaderService),
		fmt.Sprintf("wait until the Aiven API shows it active (at most %s)", timeout),
		fmt.Sprintf("then, by hand: start replication on %s and give drwatch the reversed pair (printed below)", a.LeaderService),
	}
}

// Create creates the integration the report's checks passed for and waits
// until it is active (polling every poll), recording it in r. An error
// says whether the integration exists, certainly does not, or may.
func Create(ctx context.Context, client *aiven.Client, r *Report, poll time.Duration) (aiven.FailbackResult, error) {
	res, err := aiven.CreateFailback(ctx, client, r.Failback, poll)
	if res.Integration.ID != "" {
		in := res.Integration
		r.Integration, r.Existed = &in, res.Existed
	}
	if err != nil {
		r.Next = nil
		switch {
		case r.Integration != nil:
			err = fmt.Errorf("%w\nthe integration %s exists; run this command again later: it reports an existing integration and changes nothing", err, r.Integration.ID)
		case CreateOutcomeKnown(err):
			err = fmt.Errorf("%w\nnothing was created", err)
		default:
			err = fmt.Errorf("%w\nwhether the integration was created is not known (a create whose answer was lost may have taken effect): "+
				"run this command again: it reports an existing integration and creates no second one", err)
		}
		return res, err
	}
	r.WaitedSeconds = res.Waited.Seconds()
	return res, nil
}
