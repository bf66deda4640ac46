//go:build e2e && ccr

package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests need the cross-cluster-replication plugin in the lab. Each
// test replicates indices of its own (replicated), with names no other
// test uses, and scopes its pair to them: no test stops and restarts
// replication of an index name another test used (the plugin's re-_start
// of a stopped name can time out, see deploy/lab/README.md).

// replicated creates n leader indices <prefix>-00... with shards primary
// shards each, starts replication of each on the follower and waits until
// it is syncing. Cleanup unfences the leader copies and deletes both sides.
// Register it before killing the leader, so that it runs after the
// leader's restart (cleanups run last-in first-out).
func replicated(t *testing.T, prefix string, n, shards int) []string {
	t.Helper()
	return replicatedFrom(t, prefix, 0, n, shards)
}

// runID keeps index names unique across runs on a kept lab
// (DRWATCH_LAB_KEEP): a name is never replicated twice.
var runID = strconv.FormatInt(time.Now().Unix()%(36*36*36*36), 36)

// replicatedFrom is replicated for the indices from, from+1, ... of a prefix.
func replicatedFrom(t *testing.T, prefix string, from, n, shards int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("%s-%s-%02d", prefix, runID, from+i)
	}
	t.Cleanup(func() {
		for _, idx := range names {
			osDo(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+idx+"/_stop", "{}")
			osDo(t, lab.FollowerURL, "DELETE", "/"+idx, "")
			osDo(t, lab.LeaderURL, "DELETE", "/"+idx, "")
		}
	})
	// On clusters of several nodes a replica on each side: a node lost,
	// every index still serves (the follower's replicas are its own).
	replicas, settings := 0, ""
	if lab.NodeCount > 1 {
		replicas, settings = 1, `,"settings":{"index.number_of_replicas":1}`
	}
	for _, idx := range names {
		osOK(t, lab.LeaderURL, "PUT", "/"+idx, fmt.Sprintf(`{"settings":{"number_of_shards":%d,"number_of_replicas":%d}}`, shards, replicas))
		osOK(t, lab.FollowerURL, "PUT", "/_plugins/_replication/"+idx+"/_start?wait_for_restore=true",
			fmt.Sprintf(`{"leader_alias":%q,"leader_index":%q%s%s}`, lab.Alias, idx, useRoles(), settings))
	}
	eventually(t, 120*time.Second, prefix+" indices syncing", func() bool {
		for _, idx := range names {
			var st struct {
				Status string `json:"status"`
			}
			if code, b := osDo(t, lab.FollowerURL, "GET", "/_plugins/_replication/"+idx+"/_status", ""); code != 200 || json.Unmarshal(b, &st) != nil || st.Status != "SYNCING" {
				return false
			}
		}
		return true
	})
	return names
}

// scope is a pair's index patterns covering a replicated prefix.
func scope(prefix string) string { return fmt.Sprintf(`["%s-%s-*"]`, prefix, runID) }

// scopedConfig is config() for the indices of one prefix.
func scopedConfig(t *testing.T, prefix string) string {
	t.Helper()
	cfg := config(t, "", "")
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), `indices: ["*", "-.*"]`, "indices: "+scope(prefix), 1))
	return cfg
}

func replicationCall(t *testing.T, index, action string) {
	t.Helper()
	osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+index+"/_"+action, "{}")
}

func indexOf(t *testing.T, st statusJSON, name string) (state string, lag int64, known bool) {
	t.Helper()
	for _, ix := range st.Pairs[0].Observation.Follower.Replication.Indices {
		if ix.Name == name {
			return ix.State, ix.Lag, ix.LagKnown
		}
	}
	t.Fatalf("index %s not in status", name)
	return "", 0, false
}

// waitCaughtUp waits until drwatch reads every index of the pair syncing
// with a lag of 0 measured on both clusters - and then checks that claim
// against the clusters: the follower holds every document the leader has.
func waitCaughtUp(t *testing.T, cfg string, indices []string) statusJSON {
	t.Helper()
	var st statusJSON
	eventually(t, 120*time.Second, "every index syncing with lag 0", func() bool {
		_, st = status(t, cfg)
		r := st.Pairs[0].Observation.Follower.Replication
		if r.Failure != nil || !r.LagComplete || r.MaxLag != 0 || len(r.Indices) != len(indices) {
			return false
		}
		for _, ix := range r.Indices {
			if ix.State != "syncing" {
				return false
			}
		}
		return true
	})
	for _, idx := range indices {
		l, f := idsOn(t, lab.LeaderURL, idx), idsOn(t, lab.FollowerURL, idx)
		for id := range l {
			if !f[id] {
				t.Fatalf("drwatch said %s has lag 0, but the follower lacks document %s", idx, id)
			}
		}
	}
	return st
}

// Replication running: status --json and /metrics report lag 0 for every
// index, and the follower's view agrees.
func TestCCRLagZeroWhileSyncing(t *testing.T) {
	idx := replicated(t, "zero", 3, 2)
	for _, ix := range idx {
		writeIDs(t, ix, 0, 10)
	}
	cfg := scopedConfig(t, "zero")
	waitCaughtUp(t, cfg, idx)
	d := startDaemon(t, cfg)
	for _, ix := range idx {
		d.waitMetric(t, 20*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	d.waitMetric(t, 10*time.Second, `drwatch_replication_lag_unknown_indices{pair="lab"}`, "0")
	d.waitMetric(t, 10*time.Second, `drwatch_replication_indices{pair="lab",state="syncing"}`, "3")
	d.waitMetric(t, 10*time.Second, `drwatch_replication_lag_disagreeing_indices{pair="lab"}`, "0")
}

// Replication paused on one two-shard index while documents are written to
// the leader: its lag equals the number of operations written, exactly,
// read from the leader's own checkpoints; the other index stays at 0.
// Resumed: the lag returns to 0 and the follower holds every document.
func TestCCRPausedLagIsExactAndResumeCatchesUp(t *testing.T) {
	idx := replicated(t, "paused", 2, 2)
	paused, live := idx[0], idx[1]
	cfg := scopedConfig(t, "paused")
	waitCaughtUp(t, cfg, idx)
	d := startDaemon(t, cfg)

	replicationCall(t, paused, "pause")
	eventually(t, 60*time.Second, paused+" not syncing", func() bool {
		_, st := status(t, cfg)
		s, _, _ := indexOf(t, st, paused)
		return s == "not_syncing"
	})
	const written = 37
	acked := writeIDs(t, paused, 0, written)
	writeIDs(t, live, 0, 5) // replicated: back to lag 0
	if len(acked) != written {
		t.Fatalf("the leader acknowledged %d of %d writes", len(acked), written)
	}

	var st statusJSON
	eventually(t, 30*time.Second, fmt.Sprintf("%s lag = %d", paused, written), func() bool {
		_, st = status(t, cfg)
		_, lag, known := indexOf(t, st, paused)
		return known && lag == written
	})
	eventually(t, 30*time.Second, live+" caught up", func() bool {
		_, st = status(t, cfg)
		_, lag, known := indexOf(t, st, live)
		return known && lag == 0
	})
	// The claim checked on the clusters: the follower lacks exactly the
	// documents written while paused.
	if m := missing(t, lab.FollowerURL, paused, acked); len(m) != written {
		t.Fatalf("the follower lacks %d of the %d documents written while paused", len(m), written)
	}
	d.waitMetric(t, 20*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, paused), fmt.Sprint(written))
	d.waitMetric(t, 20*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, live), "0")

	replicationCall(t, paused, "resume")
	d.waitMetric(t, 120*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, paused), "0")
	waitCaughtUp(t, cfg, idx)
	if m := missing(t, lab.FollowerURL, paused, acked); len(m) != 0 {
		t.Fatalf("after resume the follower still lacks %v", m)
	}
}

// The leader killed: no lag can be measured any more, so every index's
// lag is unknown - never the follower's belief - and the metric keeps its
// last measured value; status shows the follower's view beside it,
// labelled. The follower's failed reads start rising once the plugin's
// retries give up (measured: about 150 s after the kill).
func TestCCRLagUnknownWhenLeaderDies(t *testing.T) {
	idx := replicated(t, "dies", 2, 1)
	cfg := scopedConfig(t, "dies")
	replicationCall(t, idx[1], "pause")
	writeIDs(t, idx[1], 0, 5)
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, idx[1]), "5")
	d.waitMetric(t, 30*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, idx[0]), "0")

	killed := time.Now()
	killLeader(t)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
	d.waitMetric(t, 10*time.Second, `drwatch_replication_lag_unknown_indices{pair="lab"}`, "2")
	if v, _ := d.metric(t, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, idx[1])); v != "5" {
		t.Errorf("%s lag metric = %s, want the last measured 5", idx[1], v)
	}
	_, st := status(t, cfg)
	for _, ix := range idx {
		if _, _, known := indexOf(t, st, ix); known {
			t.Errorf("%s: lag known while the leader is down", ix)
		}
	}
	_, text, _ := runCLI(t, "status", "--config", cfg)
	if !strings.Contains(text, "the follower believes 0, by its last view of the leader: not a measurement") {
		t.Errorf("status does not label the follower's view:\n%s", text)
	}
	eventually(t, 300*time.Second, "failed reads rising on the follower", func() bool {
		v, _ := d.metric(t, `drwatch_replication_failed_read_requests{pair="lab"}`)
		return v != "" && v != "0"
	})
	t.Logf("the follower's failed reads rose %s after the SIGKILL", time.Since(killed).Round(time.Second))
}

// The probe cycle's HTTP request count does not grow with the number of
// follower indices: the pair's 2 indices, then 22.
func TestCCRRequestCountConstantInIndexCount(t *testing.T) {
	count := func() (int64, int64, int) {
		lp, fp := newCountingProxy(t, lab.LeaderURL), newCountingProxy(t, lab.FollowerURL)
		cfg := scopedConfig(t, "count")
		rewrite(t, cfg, lab.LeaderURL, lp.srv.URL)
		rewrite(t, cfg, lab.FollowerURL, fp.srv.URL)
		lp.n.Store(0)
		fp.n.Store(0)
		_, st := status(t, cfg)
		if r := st.Pairs[0].Observation.Follower.Replication; !r.LagComplete {
			t.Fatalf("lag not complete: %+v", r)
		}
		return lp.n.Load(), fp.n.Load(), len(st.Pairs[0].Observation.Follower.Replication.Indices)
	}
	replicated(t, "count", 2, 1)
	l1, f1, n1 := count()
	replicatedFrom(t, "count", 2, 20, 1)
	l2, f2, n2 := count()
	if n1 != 2 || n2 != 22 {
		t.Fatalf("follower indices: %d then %d, want 2 and 22", n1, n2)
	}
	// The leader: health, blocks, sequence numbers and (a first cycle)
	// the lease period; the follower: five reads and the witness.
	if l1 != 4 || f1 != 6 || l2 != l1 || f2 != f1 {
		t.Fatalf("requests per cycle: leader %d, follower %d with %d indices; %d, %d with %d", l1, f1, n1, l2, f2, n2)
	}
	t.Logf("requests per cycle: %d on the leader, %d on the follower, with %d and with %d follower indices", l1, f1, n1, n2)
}

func rewrite(t *testing.T, cfg, from, to string) {
	t.Helper()
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), from, to, 1))
}
