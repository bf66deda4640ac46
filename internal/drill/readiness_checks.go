package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/promote/ccr"
)

// The judging half of the readiness drill: pure functions from what was
// read to a Check. Nothing here makes a request.

var titles = map[string]string{
	CheckLeaderSeen:   "The follower sees the leader",
	CheckReplicated:   "Every leader index in scope is replicated",
	CheckAutofollow:   "Autofollow rules are healthy",
	CheckFollowers:    "No paused, failed or restoring follower index",
	CheckMappings:     "Mappings match between leader and follower",
	CheckSettings:     "Index settings match between leader and follower",
	CheckDocCounts:    "Document counts agree within the lag",
	CheckCredentials:  "drwatch's credentials allow every call a promotion makes",
	CheckHooks:        "Hooks deliver the events that matter",
	CheckVerdict:      "What the policy would decide if the leader died now",
	CheckPromotionETA: "Estimated promotion time",
	CheckAiven:        "The Aiven API would carry the promotion",
}

// count says n things: "1 index", "2 indices".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func check(name, result, detail string, items ...string) Check {
	return Check{Name: name, Title: titles[name], Result: result, Detail: detail, Items: items}
}

// maxItems bounds the items of one check: the rest are counted.
const maxItems = 50

func capItems(items []string) []string {
	sort.Strings(items)
	if len(items) > maxItems {
		n := len(items) - maxItems
		items = append(items[:maxItems:maxItems], fmt.Sprintf("and %d more", n))
	}
	return items
}

func failureText(f *observe.Failure) string {
	if f == nil {
		return "unknown failure"
	}
	return f.Message
}

// judgeLeaderSeen: the follower has the pair's leader_alias and is
// connected through it (after one cross-cluster read, when it was not),
// and drwatch itself reaches the leader.
func judgeLeaderSeen(obs observe.Observation, alias string, rv remoteView) Check {
	const name = CheckLeaderSeen
	if rv.Err != nil {
		return check(name, Fail, "the follower's remote clusters could not be read: "+errText(rv.Err))
	}
	rc, ok := rv.Info[alias]
	if !ok {
		known := make([]string, 0, len(rv.Info))
		for a := range rv.Info {
			known = append(known, a)
		}
		sort.Strings(known)
		has := "none"
		if len(known) > 0 {
			has = strings.Join(known, ", ")
		}
		return check(name, Fail, fmt.Sprintf("follower.leader_alias %q names no remote cluster of the follower (cluster.remote.%s.seeds or proxy_address is not set); it has: %s. Replication and promotion go through that alias.", alias, alias, has),
			fmt.Sprintf("%s: no such remote cluster on the follower", alias))
	}
	where := remoteAddress(rc)
	if !rv.FirstSeen {
		after, ok := rv.After[alias]
		if rv.AfterErr != nil || !ok || !after.Connected {
			why := "still not connected after a cross-cluster read"
			if rv.ReachErr != nil {
				why += ": " + errText(rv.ReachErr)
			}
			if rv.AfterErr != nil {
				why += "; remote info: " + errText(rv.AfterErr)
			}
			return check(name, Fail, fmt.Sprintf("the follower's remote cluster %q (%s) connects to nothing: %s", alias, where, why),
				fmt.Sprintf("%s: remote cluster does not connect (%s)", alias, where))
		}
	}
	if !obs.Leader.Reachable {
		return check(name, Fail, fmt.Sprintf("the follower is connected to %q (%s), but drwatch cannot read the leader's health: %s", alias, where, failureText(obs.Leader.Failure)),
			"leader: drwatch cannot read its health")
	}
	detail := fmt.Sprintf("the follower is connected to the leader through %q (%s, %s mode); drwatch reads the leader's health (%s)", alias, where, rc.Mode, obs.Leader.Health)
	if !rv.FirstSeen {
		detail += "; it was disconnected until one cross-cluster read made it reconnect (the follower reconnects only when something asks)"
	}
	return check(name, Pass, detail)
}

func remoteAddress(rc opensearch.RemoteCluster) string {
	switch {
	case rc.ProxyAddress != "":
		return "proxy_address " + rc.ProxyAddress
	case len(rc.Seeds) > 0:
		return "seeds " + strings.Join(rc.Seeds, ", ")
	}
	return "no seeds or proxy address"
}

// leaderIndicesInScope are the leader's indices the pair's patterns
// match, without system and hidden ones.
func leaderIndicesInScope(settings map[string]map[string]any, patterns []string) []string {
	var out []string
	for name, s := range settings {
		if strings.HasPrefix(name, ".") || fmt.Sprint(s["index.hidden"]) == "true" || !probe.InScope(name, patterns) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// judgeReplicated: every leader index in scope is the leader index of a
// follower index of the pair's alias. An uncovered one that an autofollow
// rule matches and has not failed is a warning (the rule picks it up on
// its next run); one no rule matches, or that its rule failed to start, a
// failure.
func judgeReplicated(obs observe.Observation, patterns []string, leaderSettings map[string]map[string]any, leaderErr error) Check {
	const name = CheckReplicated
	r := obs.Follower.Replication
	if r.Failure != nil {
		return check(name, Fail, "the follower's indices could not be read: "+failureText(r.Failure))
	}
	if leaderErr != nil {
		return check(name, Fail, "the leader's indices could not be read: "+errText(leaderErr))
	}
	if obs.Follower.Autofollow.Failure != nil {
		return check(name, Fail, "the follower's autofollow rules could not be read: "+failureText(obs.Follower.Autofollow.Failure))
	}
	inScope := leaderIndicesInScope(leaderSettings, patterns)
	if len(inScope) == 0 {
		return check(name, Fail, fmt.Sprintf("the pair's indices %s match no leader index: a promotion would promote nothing", strings.Join(patterns, ", ")))
	}
	covered := map[string]bool{}
	for _, ix := range r.Indices {
		covered[ix.LeaderIndex] = true
	}
	failed := map[string]bool{}
	for _, n := range obs.Follower.Autofollow.FailedIndices {
		failed[n] = true
	}
	var bad, pending []string
	for _, idx := range inScope {
		if covered[idx] {
			continue
		}
		var rules []string
		for _, rule := range obs.Follower.Autofollow.Rules {
			if probe.InScope(idx, []string{rule.Pattern}) {
				rules = append(rules, rule.Name)
			}
		}
		switch {
		case len(rules) == 0:
			bad = append(bad, idx+" (leader): not replicated: no autofollow rule or _start covers it")
		case failed[idx]:
			bad = append(bad, fmt.Sprintf("%s (leader): not replicated: autofollow rule %s failed to start it", idx, strings.Join(rules, ", ")))
		default:
			pending = append(pending, fmt.Sprintf("%s (leader): not replicated yet: autofollow rule %s matches it and should start it on its next run", idx, strings.Join(rules, ", ")))
		}
	}
	total := count(len(inScope), "leader index", "leader indices") + " in scope"
	switch {
	case len(bad) > 0:
		return check(name, Fail, fmt.Sprintf("%s, %d not replicated: their writes are on no follower and a promotion would lose them", total, len(bad)+len(pending)), capItems(append(bad, pending...))...)
	case len(pending) > 0:
		return check(name, Warn, fmt.Sprintf("%s, %d not replicated yet but matched by an autofollow rule", total, len(pending)), capItems(pending)...)
	}
	return check(name, Pass, fmt.Sprintf("%s, each followed by a follower index of %q", total, obs.Follower.Remote.Alias))
}

// ruleNamesInScope are the autofollow rules that can feed the pair (the
// rules a promotion deletes).
func ruleNamesInScope(obs observe.Observation, patterns []string) []string {
	var out []string
	for _, r := range obs.Follower.Autofollow.Rules {
		if ccr.RuleInScope(r.Pattern, patterns) {
			out = append(out, r.Name)
		}
	}
	return out
}

// judgeAutofollow: no leader index in scope is in autofollow_stats'
// failed_indices.
func judgeAutofollow(obs observe.Observation, patterns []string) Check {
	const name = CheckAutofollow
	a := obs.Follower.Autofollow
	if a.Failure != nil {
		return check(name, Fail, "autofollow_stats could not be read: "+failureText(a.Failure))
	}
	var inScope []string
	for _, r := range a.Rules {
		if ccr.RuleInScope(r.Pattern, patterns) {
			inScope = append(inScope, fmt.Sprintf("%s (%s)", r.Name, r.Pattern))
		}
	}
	var bad []string
	for _, idx := range a.FailedIndices {
		if !probe.InScope(idx, patterns) {
			continue
		}
		var rules []string
		for _, r := range a.Rules {
			if probe.InScope(idx, []string{r.Pattern}) {
				rules = append(rules, r.Name)
			}
		}
		by := "an autofollow rule"
		if len(rules) > 0 {
			by = "rule " + strings.Join(rules, ", ")
		}
		bad = append(bad, fmt.Sprintf("%s (leader): %s failed to start replicating it", idx, by))
	}
	if len(bad) > 0 {
		return check(name, Fail, fmt.Sprintf("%d leader indices in scope that autofollow failed to replicate (autofollow_stats failed_indices): the RPO guard fails while there are any", len(bad)), capItems(bad)...)
	}
	if len(inScope) == 0 {
		return check(name, Pass, fmt.Sprintf("no autofollow rule can feed this pair (%s in all): its follower indices are started by hand", count(len(a.Rules), "rule", "rules")))
	}
	return check(name, Pass, fmt.Sprintf("%s can feed this pair (%s), no failed index", count(len(inScope), "rule", "rules"), strings.Join(inScope, ", ")))
}

// judgeFollowers: every in-scope follower index is syncing; the others
// are named with what _status says of them.
func judgeFollowers(obs observe.Observation, st statusesRead) Check {
	const name = CheckFollowers
	r := obs.Follower.Replication
	if !obs.Follower.Reachable {
		return check(name, Fail, "the follower did not answer: "+failureText(obs.Follower.Failure))
	}
	if r.Failure != nil {
		return check(name, Fail, "the follower's replication state could not be read: "+failureText(r.Failure))
	}
	var bad []string
	for _, ix := range r.Indices {
		if ix.State == observe.StateSyncing {
			continue
		}
		s, ok := st.Of[ix.Name]
		switch {
		case ok:
			bad = append(bad, ix.Name+": "+describeStatus(s))
		case st.Errs[ix.Name] != nil:
			bad = append(bad, ix.Name+": not syncing (its _status could not be read: "+errText(st.Errs[ix.Name])+")")
		default:
			bad = append(bad, ix.Name+": not syncing (its _status was not asked: more than "+fmt.Sprint(maxStatusCalls)+" indices are not syncing)")
		}
	}
	if len(bad) > 0 {
		return check(name, Fail, fmt.Sprintf("%d of %d follower indices are not syncing: a promotion would promote them as they are, without what the leader wrote since", len(bad), len(r.Indices)), capItems(bad)...)
	}
	if len(r.Indices) == 0 {
		return check(name, Pass, "no follower index in scope (see "+CheckReplicated+")")
	}
	return check(name, Pass, count(len(r.Indices), "follower index", "follower indices")+", all syncing (follower_stats lists their shard tasks)")
}

func describeStatus(s opensearch.ReplicationStatus) string {
	reason := ""
	if s.Reason != "" {
		reason = " (" + s.Reason + ")"
	}
	switch s.Status {
	case "PAUSED":
		return "paused" + reason
	case "FAILED":
		return "failed" + reason
	case "BOOTSTRAPPING":
		return "restoring from the leader (bootstrapping)"
	case "SYNCING", "RUNNING":
		return "not syncing when probed, " + strings.ToLower(s.Status) + " when asked after: starting or restarting its shard tasks"
	default:
		return "not syncing: status " + s.Status + reason
	}
}

// decodeJSON parses JSON keeping numbers exact.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// maxDiffs bounds the differences named per index.
const maxDiffs = 5

// diffJSON lists where a (the leader's) and b (the follower's) differ, as
// dotted paths.
func diffJSON(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for _, k := range unionKeys(am, bm) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			av, ina := am[k]
			bv, inb := bm[k]
			switch {
			case !inb && nonEmptyObject(av):
				// Name the leaves: a field added to an index without
				// mappings reads "properties.f.type: only on the leader".
				diffJSON(p, av, map[string]any{}, out)
			case !ina && nonEmptyObject(bv):
				diffJSON(p, map[string]any{}, bv, out)
			case !inb:
				*out = append(*out, p+": only on the leader")
			case !ina:
				*out = append(*out, p+": only on the follower")
			default:
				diffJSON(p, av, bv, out)
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: leader %s, follower %s", path, short(a), short(b)))
	}
}

func nonEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) > 0
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func summarizeDiffs(d []string) string {
	if len(d) > maxDiffs {
		return strings.Join(d[:maxDiffs], "; ") + fmt.Sprintf("; and %d more", len(d)-maxDiffs)
	}
	return strings.Join(d, "; ")
}

// judgeMappings compares each follower index's mapping with its leader
// index's, parsed.
func judgeMappings(pairs []indexPair, lm map[string]json.RawMessage, lErr error, fm map[string]json.RawMessage, fErr error) Check {
	const name = CheckMappings
	switch {
	case lErr != nil:
		return check(name, Fail, "the leader's mappings could not be read: "+errText(lErr))
	case fErr != nil:
		return check(name, Fail, "the follower's mappings could not be read: "+errText(fErr))
	}
	var bad []string
	for _, p := range pairs {
		lraw, lok := lm[p.Leader]
		fraw, fok := fm[p.Follower]
		if !lok || !fok {
			bad = append(bad, fmt.Sprintf("%s: mapping not read (%s)", p.Follower, missingSide(p, lok, fok)))
			continue
		}
		lv, lerr := decodeJSON(lraw)
		fv, ferr := decodeJSON(fraw)
		if lerr != nil || ferr != nil {
			bad = append(bad, p.Follower+": mapping is not valid JSON")
			continue
		}
		var d []string
		diffJSON("", lv, fv, &d)
		if len(d) > 0 {
			bad = append(bad, fmt.Sprintf("%s: mapping differs from leader index %s: %s", p.Follower, p.Leader, summarizeDiffs(d)))
		}
	}
	if len(bad) > 0 {
		return check(name, Fail, fmt.Sprintf("%d of %d follower indices have a mapping that differs from their leader index's: after a promotion, writes would be indexed differently (the plugin copies mapping changes every plugins.replication.follower.metadata_sync_interval, 60 s by default, while the index syncs)", len(bad), len(pairs)), capItems(bad)...)
	}
	return check(name, Pass, count(len(pairs), "follower index", "follower indices")+", each mapping equal to its leader index's (compared as parsed JSON)")
}

func missingSide(p indexPair, lok, fok bool) string {
	switch {
	case !lok && !fok:
		return "neither " + p.Leader + " on the leader nor " + p.Follower + " on the follower answered"
	case !lok:
		return "leader index " + p.Leader + " not found on the leader"
	}
	return "not found on the follower"
}

// ignoredSettingPrefixes are the index settings that legitimately differ
// between a leader index and its follower: identity and history (uuid,
// creation date, name given at creation, versions), the replication
// plugin's own, replicas (each cluster sizes its own), and what the plugin
// itself never copies to a follower (IndexReplicationTask's blocked
// settings: blocks, routing, the retention lease period, wait_for_active_shards).
var ignoredSettingPrefixes = []string{
	"index.uuid", "index.creation_date", "index.provided_name", "index.version.", "index.history.",
	"index.resize.", "index.verified_before_close",
	"index.plugins.replication.",
	"index.number_of_replicas", "index.auto_expand_replicas",
	"index.blocks.", "index.routing.", "index.soft_deletes.retention_lease.period",
	"index.write.wait_for_active_shards",
}

func ignoredSetting(key string) bool {
	for _, p := range ignoredSettingPrefixes {
		if key == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(key, p)) {
			return true
		}
	}
	return false
}

// judgeSettings compares each follower index's settings with its leader
// index's, every setting but the ignored ones.
func judgeSettings(pairs []indexPair, ls map[string]map[string]any, lErr error, fs map[string]map[string]any, fErr error) Check {
	const name = CheckSettings
	switch {
	case lErr != nil:
		return check(name, Fail, "the leader's index settings could not be read: "+errText(lErr))
	case fErr != nil:
		return check(name, Fail, "the follower's index settings could not be read: "+errText(fErr))
	}
	var bad []string
	compared := 0
	for _, p := range pairs {
		l, lok := ls[p.Leader]
		f, fok := fs[p.Follower]
		if !lok || !fok {
			bad = append(bad, fmt.Sprintf("%s: settings not read (%s)", p.Follower, missingSide(p, lok, fok)))
			continue
		}
		lf, ff := map[string]any{}, map[string]any{}
		for k, v := range l {
			if !ignoredSetting(k) {
				lf[k] = v
			}
		}
		for k, v := range f {
			if !ignoredSetting(k) {
				ff[k] = v
			}
		}
		compared += len(lf)
		var d []string
		for _, k := range unionKeys(lf, ff) {
			lv, inl := lf[k]
			fv, inf := ff[k]
			switch {
			case !inf:
				d = append(d, fmt.Sprintf("%s: only on the leader (%s)", k, short(lv)))
			case !inl:
				d = append(d, fmt.Sprintf("%s: only on the follower (%s)", k, short(fv)))
			case !reflect.DeepEqual(lv, fv):
				d = append(d, fmt.Sprintf("%s: leader %s, follower %s", k, short(lv), short(fv)))
			}
		}
		if len(d) > 0 {
			bad = append(bad, fmt.Sprintf("%s: settings differ from leader index %s: %s", p.Follower, p.Leader, summarizeDiffs(d)))
		}
	}
	ignored := "ignored because they legitimately differ: " + strings.Join(ignoredSettingPrefixes, ", ")
	if len(bad) > 0 {
		return check(name, Fail, fmt.Sprintf("%d of %d follower indices have settings that differ from their leader index's (%s)", len(bad), len(pairs), ignored), capItems(bad)...)
	}
	return check(name, Pass, fmt.Sprintf("%s, settings equal to their leader index's (%d settings compared; %s)", count(len(pairs), "follower index", "follower indices"), compared, ignored))
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// countFindings is the document-count comparison of one look.
type countFindings struct {
	err     string
	indices int
	failed  map[string]string // index -> why (apart by more than its lag)
	unknown map[string]string // index -> why (apart, lag unknown)
}

func docCountFindings(obs observe.Observation, c countsRead) countFindings {
	f := countFindings{failed: map[string]string{}, unknown: map[string]string{}}
	r := obs.Follower.Replication
	switch {
	case r.Failure != nil:
		f.err = "the follower's indices could not be read: " + failureText(r.Failure)
		return f
	case c.FollowerErr != nil:
		f.err = "the follower's document counts could not be read: " + errText(c.FollowerErr)
		return f
	case c.LeaderErr != nil:
		f.err = "the leader's document counts could not be read: " + errText(c.LeaderErr)
		return f
	}
	f.indices = len(r.Indices)
	for _, ix := range r.Indices {
		l, fc := c.Leader[ix.LeaderIndex], c.Follower[ix.Name]
		apart := l - fc
		if apart < 0 {
			apart = -apart
		}
		switch {
		case apart == 0:
		case !ix.LagKnown:
			f.unknown[ix.Name] = fmt.Sprintf("%s: leader %d documents, follower %d, lag unknown: not judged", ix.Name, l, fc)
		case apart > ix.Lag:
			f.failed[ix.Name] = fmt.Sprintf("%s: leader %d documents, follower %d: %d apart, more than its lag of %d operations", ix.Name, l, fc, apart, ix.Lag)
		}
	}
	return f
}

// persistentFindings keeps of a first look's failures those a second
// look found too (a count that raced a write is fine the second time).
func persistentFindings(first, again countFindings) countFindings {
	if again.err != "" {
		return again
	}
	out := again
	out.failed = map[string]string{}
	for idx, why := range again.failed {
		if _, ok := first.failed[idx]; ok {
			out.failed[idx] = why
		}
	}
	return out
}

func judgeDocCounts(f countFindings) Check {
	const name = CheckDocCounts
	if f.err != "" {
		return check(name, Fail, f.err)
	}
	how := "counted with one search per cluster: a terms aggregation on _index"
	if len(f.failed) > 0 {
		items := make([]string, 0, len(f.failed)+len(f.unknown))
		for _, v := range f.failed {
			items = append(items, v)
		}
		for _, v := range f.unknown {
			items = append(items, v)
		}
		return check(name, Fail, fmt.Sprintf("%d of %d follower indices hold a number of documents further from their leader's than their lag explains (seen twice): %s", len(f.failed), f.indices, how), capItems(items)...)
	}
	if len(f.unknown) > 0 {
		items := make([]string, 0, len(f.unknown))
		for _, v := range f.unknown {
			items = append(items, v)
		}
		return check(name, Warn, fmt.Sprintf("%d of %d follower indices differ in documents from their leader and their lag is unknown: not judged", len(f.unknown), f.indices), capItems(items)...)
	}
	return check(name, Pass, fmt.Sprintf("%s, each within its lag of its leader index's count (%s)", count(f.indices, "follower index", "follower indices"), how))
}

// judgeCredentials: who each cluster takes drwatch for, and whether each
// permission drwatch needs there is allowed: tried one by one on a name
// no index has (opensearch.CheckPermissions), so nothing changes. A
// permission of watching, promoting or HA refused fails the check; one
// only failover drills need warns.
func judgeCredentials(obs observe.Observation, la, fa authRead, aivenPair bool, pair *config.Pair) Check {
	const name = CheckCredentials
	var fails, warns, notes []string
	side := func(which string, a authRead, refused []string) {
		switch {
		case a.Err != nil && opensearch.ClassOf(a.Err) == observe.ClassAuth:
			fails = append(fails, which+": "+errText(a.Err))
			return
		case a.Err != nil:
			fails = append(fails, which+": could not ask who drwatch is (GET _plugins/_security/authinfo): "+errText(a.Err))
			return
		case !a.Info.Security:
			notes = append(notes, which+" has no security plugin (GET _plugins/_security/authinfo has no handler): it checks no permission, every call is allowed")
			return
		}
		who := fmt.Sprintf("%s: user %s, roles [%s], backend roles [%s]", which, a.Info.User, strings.Join(a.Info.Roles, ", "), strings.Join(a.Info.BackendRoles, ", "))
		for _, r := range refused {
			fails = append(fails, fmt.Sprintf("%s: user %s was refused %s", which, a.Info.User, r))
		}
		tried, untried := 0, 0
		for _, c := range a.Checks {
			p := c.Permission
			if aivenPair && p.Side == opensearch.SideFollower && p.Role != "drwatch_watch" {
				continue // the Aiven API promotes: no stop, no drill restore in the cluster
			}
			switch {
			case c.Off:
			case c.Untried != "":
				untried++
				warns = append(warns, fmt.Sprintf("%s: %s (%s) not tried: %s", which, p.Action, p.Role, c.Untried))
			case c.Refused() && p.Role == "drwatch_drill":
				tried++
				warns = append(warns, fmt.Sprintf("%s (failover drills need it: %s)", refusalText(c.Err), p.For))
			case c.Refused():
				tried++
				fails = append(fails, fmt.Sprintf("%s (%s)", refusalText(c.Err), p.For))
			case c.Err != nil:
				untried++
				warns = append(warns, fmt.Sprintf("%s: %s could not be tried: %s", which, p.Action, errText(c.Err)))
			default:
				tried++
			}
		}
		if len(a.Checks) == 0 {
			notes = append(notes, who)
			return
		}
		notes = append(notes, fmt.Sprintf("%s: %d permissions tried on names no index has", who, tried))
		_ = untried
	}
	side("leader", la, refusedReads(obs, "leader"))
	side("follower", fa, refusedReads(obs, "follower"))
	if r := pair.Follower.UseRoles; r != nil {
		for _, m := range []struct {
			which, role string
			a           authRead
		}{{"leader", r.LeaderClusterRole, la}, {"follower", r.FollowerClusterRole, fa}} {
			if m.a.Err == nil && m.a.Info.Security && !slices.Contains(m.a.Info.Roles, m.role) {
				warns = append(warns, fmt.Sprintf("%s: user %s is not mapped to role %s of use_roles: a failover drill's restore could not start replication again (the security plugin answers \"No mapping for User\"): map it", m.which, m.a.Info.User, m.role))
			}
		}
	}
	detail := strings.Join(notes, "; ")
	switch {
	case len(fails) > 0:
		return check(name, Fail, "drwatch's credentials would not carry a promotion"+prefixed(detail), capItems(append(fails, warns...))...)
	case len(warns) > 0:
		return check(name, Warn, "drwatch's permissions: some could not be tried, or only drills need them"+prefixed(detail), warns...)
	}
	return check(name, Pass, detail)
}

// refusalText is a refusal in its own words ("the follower refused X to
// user drwatch: add it to its role").
func refusalText(err error) string {
	if e, ok := opensearch.AsError(err); ok && e.Detail != "" {
		return e.Detail
	}
	return errText(err)
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// refusedReads names the reads of the observation a cluster refused (401
// or 403): calls a promotion makes too.
func refusedReads(obs observe.Observation, which string) []string {
	refused := func(f *observe.Failure) bool { return f != nil && f.Class == observe.ClassAuth }
	var out []string
	if which == "leader" {
		if refused(obs.Leader.Failure) {
			out = append(out, "GET _cluster/health")
		}
		if f := obs.Follower.Replication.CheckpointsFailure; refused(f) && obs.Follower.Replication.CheckpointsSide == observe.SideLeader {
			out = append(out, "GET <indices>/_stats")
		}
		return out
	}
	if refused(obs.Follower.Failure) || refused(obs.Follower.Remote.Failure) {
		out = append(out, "GET _remote/info")
	}
	if refused(obs.Follower.Replication.Failure) {
		out = append(out, "GET _plugins/_replication/follower_stats or <indices>/_settings")
	}
	if refused(obs.Follower.Autofollow.Failure) {
		out = append(out, "GET _plugins/_replication/autofollow_stats")
	}
	if f := obs.Follower.Replication.CheckpointsFailure; refused(f) && obs.Follower.Replication.CheckpointsSide == observe.SideFollower {
		out = append(out, "GET <indices>/_stats")
	}
	return out
}

// eventsThatMatter are the events someone must hear of in an outage, by
// mode: approval_required is raised only where a human is asked.
func eventsThatMatter(mode string) []string {
	evs := []string{"leader_down"}
	if mode == config.ModeAuto || mode == config.ModeSemiAuto {
		evs = append(evs, "approval_required")
	}
	return append(evs, "promotion_succeeded", "promotion_failed")
}

// judgeHooks: each event that matters is delivered by some hook.
func judgeHooks(hooks []config.Hook, mode string) Check {
	const name = CheckHooks
	var missing, have []string
	for _, ev := range eventsThatMatter(mode) {
		var by []string
		for _, h := range hooks {
			if slices.Contains(h.Events, ev) {
				by = append(by, h.Name)
			}
		}
		if len(by) == 0 {
			missing = append(missing, ev+": no hook delivers it")
			continue
		}
		have = append(have, ev+" -> "+strings.Join(by, ", "))
	}
	if len(missing) > 0 {
		return check(name, Warn, fmt.Sprintf("%d of the events that matter in %s mode reach nobody", len(missing), mode)+prefixed(strings.Join(have, "; ")), missing...)
	}
	return check(name, Pass, strings.Join(have, "; "))
}

// judgeAiven: what an Aiven pair's promotion needs of the Aiven API, from
// the observation's reading: the API answers drwatch's token, the CCR
// integration from the leader service to the follower service is there
// and active, and the follower service runs. Deleting the integration
// cannot be tried without promoting.
func judgeAiven(obs observe.Observation, a *config.Aiven) Check {
	const name = CheckAiven
	r := obs.Aiven
	switch {
	case r == nil:
		return check(name, Fail, "no reading of the Aiven API: the probe did not read it, so nothing shows that a promotion through it would work")
	case r.Failure != nil && r.Failure.Class == observe.ClassAuth:
		return check(name, Fail, "the Aiven API refuses drwatch's token (check the pair's aiven.token_env or token_file): a promotion would fail", r.Failure.Message)
	case r.Failure != nil:
		return check(name, Fail, fmt.Sprintf("the Aiven API failed (%s): a promotion, which goes through it, would fail now", r.Failure.Class), r.Failure.Message)
	}
	var fails, warns []string
	if in := r.Integration; in == nil || !in.Found {
		fails = append(fails, fmt.Sprintf("no %s integration from %s to %s: on Aiven the follower is standalone, there is nothing to promote", aiven.IntegrationTypeCCR, a.LeaderService, a.FollowerService))
	} else if in.Status == observe.IntegrationFailed {
		fails = append(fails, fmt.Sprintf("the integration %s is failed", in.ID))
	} else if !in.Active {
		warns = append(warns, fmt.Sprintf("the integration %s is not active (status %s)", in.ID, noneIfEmpty(in.Status)))
	}
	if f := r.Follower; f == nil {
		fails = append(fails, "the follower service "+a.FollowerService+" was not read")
	} else if f.State == observe.AivenPoweroff {
		fails = append(fails, fmt.Sprintf("the follower service %s is POWEROFF", f.Name))
	} else if f.State != observe.AivenRunning || !f.AllRunning() {
		warns = append(warns, fmt.Sprintf("the follower service %s is %s, %s", f.Name, f.State, f.Nodes()))
	}
	const untried = "deleting the integration (the token's permission to) cannot be tried without promoting"
	switch {
	case len(fails) > 0:
		return check(name, Fail, "the Aiven API shows a promotion would fail", fails...)
	case len(warns) > 0:
		return check(name, Warn, "the Aiven API answers, but: "+strings.Join(warns, "; ")+"; "+untried, warns...)
	}
	return check(name, Pass, fmt.Sprintf("the Aiven API answers drwatch's token; integration %s %s -> %s active (%s); follower service %s %s, %s; %s",
		r.Integration.ID, a.LeaderService, a.FollowerService, noneIfEmpty(r.Integration.Status), r.Follower.Name, r.Follower.State, r.Follower.Nodes(), untried))
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
