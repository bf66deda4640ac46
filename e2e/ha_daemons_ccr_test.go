//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two drwatch daemons (ha.enabled) watching the same pair on the real lab,
// each behind proxies of its own in front of the leader and the follower,
// so that what each one sends is counted apart: exactly one acts, the
// other only observes, and a standby takes over - and acts - only once
// the lease is its own in the follower cluster.

const (
	haTTL      = 3 * time.Second
	haRound    = haTTL / 3              // a lease round
	haInterval = 500 * time.Millisecond // policyCfg's probe_interval
	haDownFor  = 3 * time.Second        // policyCfg's leader_down_after

	haLeader = `drwatch_ha_leader{pair="lab"}`
	promoted = `drwatch_pair_state{pair="lab",state="promoted"}`
)

// haDaemon is one of the two daemons: its config, and its proxies.
type haDaemon struct {
	*daemon  // nil until started
	id       string
	cfg, tok string
	leader   *countingProxy // in front of the leader
	follower *countingProxy // in front of the follower
	// link, when set, is a TCP proxy between the daemon and its follower
	// proxy: cut it to cut the daemon off from the follower cluster.
	link *tcpProxy
}

// newHADaemon writes the config of daemon id: auto mode with the fast
// decision policy (policyCfg), the indices of prefix, both clusters
// through its proxies, and the ha block with the lease in index lease.
func newHADaemon(t *testing.T, id, lease, prefix string, withLink bool) *haDaemon {
	t.Helper()
	h := &haDaemon{id: id, leader: newCountingProxy(t, lab.LeaderURL), follower: newCountingProxy(t, lab.FollowerURL)}
	followerURL := h.follower.URL()
	if withLink {
		h.link = newTCPProxy(t, "follower-"+id, strings.TrimPrefix(followerURL, "http://"))
		followerURL = "http://" + h.link.Addr()
	}
	h.cfg, h.tok = decisionConfigIndices(t, h.leader.URL(), "auto", scope(prefix))
	rewrite(t, h.cfg, "url: "+lab.FollowerURL+"\n", "url: "+followerURL+"\n")
	writeFile(t, h.cfg, readFile(t, h.cfg)+fmt.Sprintf("ha:\n  enabled: true\n  lease_index: %s\n  ttl: %s\n  identity: %s\n", lease, haTTL, id))
	if code, _, errOut := runCLI(t, "check", "--config", h.cfg); code != 0 {
		t.Fatalf("config of %s invalid: %s\n%s", id, errOut, readFile(t, h.cfg))
	}
	return h
}

func (h *haDaemon) start(t *testing.T) {
	t.Helper()
	h.daemon = startDaemon(t, h.cfg)
}

// haView is a pair's status in one daemon's GET /api/v1/status: the
// decision it shows (the holder's published one, on a standby), its
// problems and its view of the lease.
type haView struct {
	Decision decision `json:"decision"`
	Problems []string `json:"problems"`
	HA       *struct {
		Role          string `json:"role"`
		Identity      string `json:"identity"`
		Holder        string `json:"holder"`
		Term          int64  `json:"term"`
		Error         string `json:"error"`
		PublishedBy   string `json:"published_by"`
		PublishedTerm int64  `json:"published_term"`
	} `json:"ha"`
}

func (v haView) String() string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (h *haDaemon) view(t *testing.T) haView {
	t.Helper()
	code, body := h.get(t, "/api/v1/status")
	var st struct {
		Pairs []haView `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || len(st.Pairs) != 1 || st.Pairs[0].HA == nil {
		t.Fatalf("%s: GET /api/v1/status: HTTP %d, %v: %s", h.id, code, err, body)
	}
	return st.Pairs[0]
}

// waitView waits until the daemon's status satisfies cond, and returns it.
func (h *haDaemon) waitView(t *testing.T, within time.Duration, what string, cond func(haView) bool) haView {
	t.Helper()
	var v haView
	start := time.Now()
	for v = h.view(t); !cond(v); v = h.view(t) {
		if time.Since(start) > within {
			t.Fatalf("%s: timed out after %s waiting for: %s; status: %s", h.id, within, what, v)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return v
}

// standbyUnder waits until the daemon says it is standby under holder.
func (h *haDaemon) standbyUnder(t *testing.T, holder string) haView {
	t.Helper()
	return h.waitView(t, 3*haTTL, "standby, "+holder+" holding the lease", func(v haView) bool {
		return v.HA.Role == "standby" && v.HA.Holder == holder && v.HA.Identity == h.id
	})
}

// act posts a command to the daemon's API (POST /api/v1/pairs/lab/<action>)
// with its token, and returns the HTTP status and the answer's state.
func (h *haDaemon) act(t *testing.T, action, reason string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", h.base+"/api/v1/pairs/lab/"+action, strings.NewReader(fmt.Sprintf(`{"reason":%q}`, reason)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(readFile(t, h.tok)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %s: %v", h.id, action, err)
	}
	defer resp.Body.Close()
	var ans struct {
		State string `json:"state"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatalf("%s: %s: HTTP %d, not JSON: %v", h.id, action, resp.StatusCode, err)
	}
	t.Logf("%s: POST %s: HTTP %d, state %q %s", h.id, action, resp.StatusCode, ans.State, ans.Error)
	return resp.StatusCode, ans.State
}

// haRun is one test's pair: replicated indices of its own with
// acknowledged writes, and two daemons, dr-a and dr-b, sharing a lease
// index of the test's own.
type haRun struct {
	a, b  *haDaemon
	idx   []string
	acked map[string][]string
}

// newHARun replicates n one-shard indices of prefix, writes 100 documents
// to each, and writes both daemons' configs (dr-b's follower link through
// a TCP proxy when linkB); nothing is started.
func newHARun(t *testing.T, prefix string, n int, linkB bool) *haRun {
	t.Helper()
	r := &haRun{idx: replicated(t, prefix, n, 1), acked: map[string][]string{}}
	for _, ix := range r.idx {
		r.acked[ix] = writeIDs(t, ix, 0, 100)
	}
	lease := haLeaseIndex(t)
	r.a = newHADaemon(t, "dr-a", lease, prefix, false)
	r.b = newHADaemon(t, "dr-b", lease, prefix, linkB)
	return r
}

// start starts dr-a, waits until it holds the lease (a TTL after it first
// saw it missing), then starts dr-b and waits until it says it is standby
// under dr-a; then until dr-a, renewing, reads every index caught up and
// would promote.
func (r *haRun) start(t *testing.T) {
	t.Helper()
	r.a.start(t)
	r.a.waitMetric(t, 3*haTTL, haLeader, "1")
	r.a.waitView(t, 5*time.Second, "dr-a acting as the holder", func(v haView) bool { return v.HA.Role == "holder" })
	r.b.start(t)
	r.b.standbyUnder(t, "dr-a")
	if v, _ := r.b.metric(t, haLeader); v != "0" {
		t.Fatalf("dr-b: %s = %q beside a live holder", haLeader, v)
	}
	r.caughtUp(t, r.a)
	r.a.renewing(t, 3)
}

// caughtUp waits until h reads every index at lag 0 and its RPO guard
// passes (an unattended promotion may go ahead), then checks that claim
// on the clusters.
func (r *haRun) caughtUp(t *testing.T, h *haDaemon) {
	t.Helper()
	for _, ix := range r.idx {
		h.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	h.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")
	for _, ix := range r.idx {
		if m := missing(t, lab.FollowerURL, ix, r.acked[ix]); len(m) != 0 {
			t.Fatalf("%s said lag 0, but the follower lacks %d acknowledged writes of %s", h.id, len(m), ix)
		}
	}
}

// promotedOnceBy checks a promotion on the proxies and the clusters: each
// index's replication stopped exactly once in all, by the daemon by; every
// index standalone; every acknowledged write on the follower, by id.
func (r *haRun) promotedOnceBy(t *testing.T, by *haDaemon) {
	t.Helper()
	total := map[string]int{}
	for _, h := range []*haDaemon{r.a, r.b} {
		stops := h.follower.stops()
		for ix, n := range stops {
			total[ix] += n
		}
		for _, ix := range r.idx {
			want := 0
			if h == by {
				want = 1
			}
			if stops[ix] != want {
				t.Errorf("%s sent %d _stop for %s, want %d", h.id, stops[ix], ix, want)
			}
		}
		if len(stops) > len(r.idx) || (h != by && len(stops) > 0) {
			t.Errorf("%s stopped %v", h.id, stops)
		}
	}
	t.Logf("_stop calls per index, both daemons: %v", total)
	for _, ix := range r.idx {
		if m := missing(t, lab.FollowerURL, ix, r.acked[ix]); len(m) != 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost: %v", ix, len(m), len(r.acked[ix]), m[:min(len(m), 5)])
		}
		standalone(t, ix)
	}
}

// stillFollowing fails unless no daemon stopped anything and every index
// is still a follower index.
func (r *haRun) stillFollowing(t *testing.T) {
	t.Helper()
	for _, h := range []*haDaemon{r.a, r.b} {
		if s := h.follower.stops(); len(s) != 0 {
			t.Errorf("%s stopped replication: %v", h.id, s)
		}
	}
	for _, ix := range r.idx {
		if !isFollower(t, ix) {
			t.Errorf("%s is no longer a follower index", ix)
		}
	}
}

// waitPast waits until span has passed since from, and the daemon ran a
// probe cycle for every interval of it: what did not happen by then was
// decided against, not missed.
func (h *haDaemon) waitPast(t *testing.T, from time.Time, span time.Duration) {
	t.Helper()
	h.waitCycles(t, "lab", int(span/haInterval))
	if rest := span - time.Since(from); rest > 0 {
		time.Sleep(rest)
	}
}

// renewing waits until the daemon has taken or renewed the lease n times.
func (h *haDaemon) renewing(t *testing.T, n int) {
	t.Helper()
	eventually(t, time.Duration(n+2)*haRound, fmt.Sprintf("%s renewing the lease (%d rounds)", h.id, n), func() bool {
		v, _ := h.metric(t, `drwatch_ha_lease_renewals_total{pair="lab"}`)
		c, err := strconv.Atoi(v)
		return err == nil && c >= n
	})
}

// never watches one of d's series for span, polling every 200ms, and fails
// at once if it reads bad.
func never(t *testing.T, span time.Duration, what string, d *haDaemon, series, bad string) {
	t.Helper()
	for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if v, _ := d.metric(t, series); v == bad {
			t.Fatalf("%s: %s (%s = %s)", d.id, what, series, v)
		}
	}
}

// The leader killed with two daemons watching: the standby stays standby
// while the holder renews, exactly one daemon promotes (each index's _stop
// sent once in all, none by the standby, nothing mutating at all from the
// standby), every index is standalone with every acknowledged write, and
// the standby shows the holder's decision: promoted, published by dr-a.
func TestHALeaderKilledOneOfTwoPromotes(t *testing.T) {
	noRefusalsOfDrwatch(t) // on a secured lab: least privilege, proven
	r := newHARun(t, "ha1", 2, false)
	r.start(t)
	// Two TTLs of renewals: the standby never takes a live holder's lease.
	never(t, 2*haTTL, "took over a lease its holder renews", r.b, haLeader, "1")
	if v, _ := r.a.metric(t, haLeader); v != "1" {
		t.Fatalf("dr-a: %s = %q after two TTLs", haLeader, v)
	}
	r.caughtUp(t, r.a)

	killLeader(t)
	r.a.waitMetric(t, 60*time.Second, promoted, "1")
	if v := r.a.view(t); v.Decision.State != "promoted" || v.HA.Role != "holder" {
		t.Errorf("dr-a's status after the promotion: %s", v)
	}
	r.b.waitView(t, 10*time.Second, "the holder's promotion shown on the standby", func(v haView) bool {
		return v.Decision.State == "promoted" && v.HA.PublishedBy == "dr-a" && v.HA.Role == "standby" && v.HA.Holder == "dr-a"
	})
	if v, _ := r.b.metric(t, haLeader); v != "0" {
		t.Errorf("dr-b: %s = %q", haLeader, v)
	}
	r.promotedOnceBy(t, r.a)
	for _, c := range []struct {
		d    *haDaemon
		want string
	}{{r.a, "1"}, {r.b, "0"}} {
		if v, _ := c.d.metric(t, `drwatch_promotions_total{pair="lab",result="success"}`); v != c.want {
			t.Errorf("%s: promotions = %q, want %s", c.d.id, v, c.want)
		}
	}
	// The standby sent nothing but reads, to either cluster.
	if m := append(r.b.leader.mutating(), r.b.follower.mutating()...); len(m) != 0 {
		t.Errorf("the standby sent %d mutating requests: %v", len(m), m)
	}
}

// takeoverWithin checks how long after the holder's end (signal) the
// standby held the lease (took; acting: until its status said holder).
// The bound: the holder renewed at most a round before its end; the
// standby reads the lease once a round, so it sees that last renewal at
// most a round after it was written, takes over at the first of its
// rounds a whole TTL (of its clock) later - at most a round past the TTL -
// and sets the metric at the end of that round. Hence ttl + 2 rounds, plus
// the 250ms of the test's polling and a little for the requests. Never
// before ttl - 1 round: the lease must have gone a TTL unrenewed.
func takeoverWithin(t *testing.T, signal string, took, acting time.Duration) {
	t.Helper()
	upper, lower := haTTL+2*haRound+500*time.Millisecond, haTTL-haRound-100*time.Millisecond
	t.Logf("MEASURE ha: after the holder's %s the standby held the lease in %s and acted (status holder) in %s (ttl %s, lease round %s, probe interval %s; asserted within [%s, %s])",
		signal, took.Round(time.Millisecond), acting.Round(time.Millisecond), haTTL, haRound, haInterval, lower, upper)
	if took > upper || took < lower {
		t.Errorf("takeover after %s, want within [%s, %s]", took, lower, upper)
	}
}

// The holder SIGKILLed: the standby holds the lease within TTL + 2 lease
// rounds (measured), then the leader killed: it promotes alone.
func TestHAHolderKilledStandbyTakesOverAndPromotes(t *testing.T) {
	r := newHARun(t, "ha2", 2, false)
	r.start(t)

	killed := time.Now()
	r.a.kill(t)
	r.b.waitMetric(t, 4*haTTL, haLeader, "1")
	took := time.Since(killed)
	r.b.waitView(t, 5*time.Second, "dr-b acting as the holder", func(v haView) bool { return v.HA.Role == "holder" })
	acting := time.Since(killed)
	takeoverWithin(t, "SIGKILL", took, acting)
	if v, _ := r.b.metric(t, `drwatch_ha_term{pair="lab"}`); v != "2" {
		t.Errorf("dr-b's term = %q, want 2", v)
	}
	r.b.waitCycles(t, "lab", 2) // lag readings of its own as the holder
	r.caughtUp(t, r.b)

	killLeader(t)
	r.b.waitMetric(t, 60*time.Second, promoted, "1")
	r.promotedOnceBy(t, r.b)
	if v := r.b.view(t); v.Decision.State != "promoted" || v.HA.Role != "holder" {
		t.Errorf("dr-b's status after the promotion: %s", v)
	}
}

// The holder frozen (SIGSTOP) past its TTL: the standby takes over, and
// promotes when the leader is killed meanwhile. Woken (SIGCONT), the old
// holder sends no mutating request at all - its window is over - and says
// it is standby under dr-b.
func TestHAFrozenHolderSendsNothingAfterWaking(t *testing.T) {
	r := newHARun(t, "ha3", 2, false)
	r.start(t)

	pid := r.a.cmd.Process.Pid
	var once sync.Once
	thaw := func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGCONT) }) }
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(thaw) // before the daemon's own cleanup: a stopped process ignores SIGTERM
	frozen := time.Now()
	r.b.waitMetric(t, 4*haTTL, haLeader, "1")
	took := time.Since(frozen)
	r.b.waitView(t, 5*time.Second, "dr-b acting as the holder", func(v haView) bool { return v.HA.Role == "holder" })
	takeoverWithin(t, "SIGSTOP", took, time.Since(frozen))
	r.b.waitCycles(t, "lab", 2)
	r.caughtUp(t, r.b)
	killLeader(t)
	r.b.waitMetric(t, 60*time.Second, promoted, "1")

	if f := time.Since(frozen); f <= haTTL {
		t.Fatalf("frozen for %s only", f)
	}
	leaderBefore, followerBefore := len(r.a.leader.mutating()), len(r.a.follower.mutating())
	thaw()
	woke := time.Now()
	r.a.standbyUnder(t, "dr-b")
	r.a.waitMetric(t, 2*haTTL, haLeader, "0")
	r.a.waitPast(t, woke, haTTL+4*haInterval)
	if m := r.a.leader.mutating()[leaderBefore:]; len(m) != 0 {
		t.Errorf("dr-a, woken, sent %d mutating requests to the leader: %v", len(m), m)
	}
	if m := r.a.follower.mutating()[followerBefore:]; len(m) != 0 {
		t.Errorf("dr-a, woken, sent %d mutating requests to the follower: %v", len(m), m)
	}
	v := r.a.view(t)
	if v.HA.Role != "standby" || v.HA.Holder != "dr-b" || v.Decision.State != "promoted" || v.HA.PublishedBy != "dr-b" {
		t.Errorf("dr-a's status after waking: %s", v)
	}
	t.Logf("dr-a woken for %s: %d mutating requests before its freeze (leader %d, follower %d), none after",
		time.Since(woke).Round(time.Millisecond), leaderBefore+followerBefore, leaderBefore, followerBefore)
	r.promotedOnceBy(t, r.b)
}

// A pause through the standby's API is applied by the holder (200,
// paused) and holds both daemons through a leader outage: no _stop, every
// index a follower, both say paused. A pause through the holder's own API,
// then the holder killed: the standby takes over, adopts the pause and
// does not promote either. Resumed once the leader is back: healthy.
func TestHAPauseThroughEitherDaemonHolds(t *testing.T) {
	r := newHARun(t, "ha4", 2, false)
	r.start(t)

	if code, st := r.b.act(t, "pause", "e2e: paused through the standby"); code != 200 || st != "paused" {
		t.Fatalf("pause through the standby: HTTP %d, state %q; want 200 paused", code, st)
	}
	if v := r.a.view(t); v.Decision.State != "paused" || v.HA.Role != "holder" {
		t.Fatalf("the holder did not apply the pause the standby passed on: %s", v)
	}
	r.b.waitView(t, 5*time.Second, "the standby showing the pause", func(v haView) bool {
		return v.Decision.State == "paused" && v.HA.PublishedBy == "dr-a"
	})

	killed := time.Now()
	killLeader(t)
	r.a.waitPast(t, killed, haDownFor+6*haInterval)
	r.stillFollowing(t)
	for _, h := range []*haDaemon{r.a, r.b} {
		if v := h.view(t); v.Decision.State != "paused" {
			t.Errorf("%s, the leader down for %s: %s", h.id, time.Since(killed).Round(time.Second), v)
		}
	}
	if st := r.a.state(t); st != "paused" {
		t.Errorf("dr-a's pair state = %q", st)
	}

	// The other way: paused through the holder itself, then the holder gone.
	if code, st := r.a.act(t, "pause", "e2e: paused through the holder"); code != 200 || st != "paused" {
		t.Fatalf("pause through the holder: HTTP %d, state %q; want 200 paused", code, st)
	}
	r.a.kill(t)
	r.b.waitMetric(t, 4*haTTL, haLeader, "1")
	r.b.waitView(t, 5*time.Second, "dr-b acting as the holder", func(v haView) bool { return v.HA.Role == "holder" })
	took := time.Now()
	r.b.waitPast(t, took, haDownFor+6*haInterval)
	r.stillFollowing(t)
	if v := r.b.view(t); v.Decision.State != "paused" || v.HA.Role != "holder" || !slices.ContainsFunc(v.Decision.Reasons, func(s string) bool {
		return strings.Contains(s, "paused through the holder")
	}) {
		t.Errorf("dr-b, holder for %s with the leader down: %s", time.Since(took).Round(time.Second), v)
	}
	if st := r.b.state(t); st != "paused" {
		t.Errorf("dr-b's pair state = %q", st)
	}

	restartLeader(t)
	if code, st := r.b.act(t, "resume", "e2e: the leader is back"); code != 200 || st != "healthy" {
		t.Fatalf("resume: HTTP %d, state %q; want 200 healthy", code, st)
	}
	r.b.waitMetric(t, 30*time.Second, `drwatch_pair_state{pair="lab",state="healthy"}`, "1")
	r.b.waitCycles(t, "lab", 4)
	r.stillFollowing(t)
	if st := r.b.state(t); st != "healthy" {
		t.Errorf("dr-b after the resume: %q", st)
	}
}

// A standby cut off from the follower cluster (its link refused): the
// holder SIGKILLed and the leader killed, it never takes the lease, sends
// nothing mutating, stops nothing, and its status says why. The link
// restored, it takes the lease and promotes: it was the link.
func TestHAStandbyCutOffFromTheFollowerNeverActs(t *testing.T) {
	r := newHARun(t, "ha5", 2, true)
	// dr-b's only lag reading, once it holds the lease, is the one dr-a
	// published before its SIGKILL, some 16s before the outage dr-b then
	// sees: over the policy's max_observation_age of 10s, dr-b would ask
	// for approval ("RPO guard fails: last lag reading (0 ops) is 16s
	// before the leader was lost"). With no writes since, that reading
	// still stands for the loss (0): it may count here.
	for _, h := range []*haDaemon{r.a, r.b} {
		rewrite(t, h.cfg, "    max_observation_age: 10s\n", "    max_observation_age: 2m\n")
	}
	r.start(t)

	r.b.link.Cut()
	r.b.waitView(t, 3*haRound, "dr-b's lease rounds failing", func(v haView) bool { return v.HA.Error != "" })
	r.a.kill(t)
	killed := time.Now()
	killLeader(t)
	never(t, haDownFor+haTTL+6*haInterval-time.Since(killed), "holds the lease while cut off from the follower", r.b, haLeader, "1")
	r.b.waitCycles(t, "lab", 4)
	if m := r.b.leader.mutating(); len(m) != 0 {
		t.Errorf("dr-b, cut off, sent %d mutating requests to the leader: %v", len(m), m)
	}
	r.stillFollowing(t)
	v := r.b.view(t)
	if v.HA.Role != "standby" || !slices.ContainsFunc(v.Problems, func(p string) bool {
		return strings.Contains(p, "cannot confirm the pair's lease in the follower cluster, so it does not act for the pair")
	}) {
		t.Errorf("dr-b's status does not say why it does not act: %s", v)
	}
	t.Logf("dr-b, cut off for %s: %v", time.Since(killed).Round(time.Second), v.Problems)

	r.b.link.Restore(t)
	restored := time.Now()
	r.b.waitMetric(t, 4*haTTL, haLeader, "1")
	t.Logf("MEASURE ha: the standby held the lease %s after its follower link came back", time.Since(restored).Round(time.Millisecond))
	r.b.waitMetric(t, 60*time.Second, promoted, "1")
	r.promotedOnceBy(t, r.b)
}
