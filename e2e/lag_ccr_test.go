//go:build e2e && ccr

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// These tests need the cross-cluster-replication plugin in the lab
// (deploy/lab samples: orders-1 and orders-2 started with _start, logs-1 by
// an autofollow rule "logs").

func replicationCall(t *testing.T, index, action string) {
	t.Helper()
	osOK(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+index+"/_"+action, "{}")
}

// writeDocs indexes n documents into a leader index, one operation each.
func writeDocs(t *testing.T, index string, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"index\":{}}\n{\"n\":%d,\"at\":%q}\n", i, time.Now().Format(time.RFC3339Nano))
	}
	code, body := osDo(t, lab.LeaderURL, "POST", "/"+index+"/_bulk", b.String())
	if code != 200 || strings.Contains(string(body), `"errors":true`) {
		t.Fatalf("bulk into %s: HTTP %d %s", index, code, body)
	}
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

// waitCaughtUp waits until every sample index is syncing with lag 0.
func waitCaughtUp(t *testing.T, cfg string) statusJSON {
	t.Helper()
	var st statusJSON
	eventually(t, 120*time.Second, "all sample indices syncing with lag 0", func() bool {
		_, st = status(t, cfg)
		r := st.Pairs[0].Observation.Follower.Replication
		if r.Failure != nil || !r.LagComplete || r.MaxLag != 0 {
			return false
		}
		for _, n := range []string{"orders-1", "orders-2", "logs-1"} {
			found := false
			for _, ix := range r.Indices {
				found = found || (ix.Name == n && ix.State == "syncing")
			}
			if !found {
				return false
			}
		}
		return true
	})
	return st
}

// (a) Replication running: status --json and /metrics report lag 0 for
// every index.
func TestCCRLagZeroWhileSyncing(t *testing.T) {
	cfg := config(t, "", "")
	writeDocs(t, "orders-1", 10)
	waitCaughtUp(t, cfg)
	d := startDaemon(t, cfg)
	for _, ix := range []string{"orders-1", "orders-2", "logs-1"} {
		d.waitMetric(t, 20*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	d.waitMetric(t, 10*time.Second, `drwatch_replication_lag_unknown_indices{pair="lab"}`, "0")
	d.waitMetric(t, 10*time.Second, `drwatch_replication_indices{pair="lab",state="syncing"}`, "3")
}

// (b) and (c): replication paused on one index while documents are written
// to the leader: its lag equals the number of operations written, exactly;
// the others stay at 0. Resumed: the lag returns to 0.
func TestCCRPausedLagIsExactAndResumeCatchesUp(t *testing.T) {
	cfg := config(t, "", "")
	waitCaughtUp(t, cfg)
	d := startDaemon(t, cfg)

	replicationCall(t, "orders-2", "pause")
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			replicationCall(t, "orders-2", "resume")
		}
	})
	eventually(t, 60*time.Second, "orders-2 not syncing", func() bool {
		_, st := status(t, cfg)
		s, _, _ := indexOf(t, st, "orders-2")
		return s == "not_syncing"
	})
	const written = 37
	writeDocs(t, "orders-2", written)
	writeDocs(t, "orders-1", 5) // replicated: stays at lag 0

	var st statusJSON
	eventually(t, 30*time.Second, fmt.Sprintf("orders-2 lag = %d", written), func() bool {
		_, st = status(t, cfg)
		_, lag, known := indexOf(t, st, "orders-2")
		return known && lag == written
	})
	eventually(t, 30*time.Second, "orders-1 caught up", func() bool {
		_, st = status(t, cfg)
		_, lag, known := indexOf(t, st, "orders-1")
		return known && lag == 0
	})
	if _, lag, _ := indexOf(t, st, "logs-1"); lag != 0 {
		t.Errorf("logs-1 lag = %d, want 0", lag)
	}
	d.waitMetric(t, 20*time.Second, `drwatch_replication_lag_operations{index="orders-2",pair="lab"}`, fmt.Sprint(written))
	d.waitMetric(t, 20*time.Second, `drwatch_replication_lag_operations{index="orders-1",pair="lab"}`, "0")

	replicationCall(t, "orders-2", "resume")
	resumed = true
	d.waitMetric(t, 120*time.Second, `drwatch_replication_lag_operations{index="orders-2",pair="lab"}`, "0")
	waitCaughtUp(t, cfg)
}

// (d) The leader killed: the follower still answers follower_stats, so the
// lag of syncing indices stays at its last reading (the leader checkpoint
// freezes) and failed reads rise; a paused index's lag becomes unknown
// (its leader checkpoint cannot be read) and its metric keeps the last value.
func TestCCRLagKeptWhenLeaderDies(t *testing.T) {
	cfg := config(t, "", "")
	waitCaughtUp(t, cfg)
	replicationCall(t, "orders-2", "pause")
	t.Cleanup(func() { replicationCall(t, "orders-2", "resume") })
	writeDocs(t, "orders-2", 5)
	d := startDaemon(t, cfg)
	d.waitMetric(t, 30*time.Second, `drwatch_replication_lag_operations{index="orders-2",pair="lab"}`, "5")

	killLeader(t)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
	d.waitMetric(t, 10*time.Second, `drwatch_replication_lag_unknown_indices{pair="lab"}`, "1")
	if v, _ := d.metric(t, `drwatch_replication_lag_operations{index="orders-2",pair="lab"}`); v != "5" {
		t.Errorf("orders-2 lag metric = %s, want the last known 5", v)
	}
	_, st := status(t, cfg)
	if _, lag, known := indexOf(t, st, "orders-1"); !known || lag != 0 {
		t.Errorf("orders-1: known=%v lag=%d, want the last reading 0", known, lag)
	}
	if _, _, known := indexOf(t, st, "orders-2"); known {
		t.Error("orders-2's lag must be unknown while the leader is down")
	}
	eventually(t, 120*time.Second, "failed reads rising on the follower", func() bool {
		v, _ := d.metric(t, `drwatch_replication_failed_read_requests{pair="lab"}`)
		return v != "" && v != "0"
	})
}

// (e) The probe cycle's HTTP request count does not grow with the number of
// follower indices: 3 follower indices, then 23.
func TestCCRRequestCountConstantInIndexCount(t *testing.T) {
	count := func() (int64, int) {
		lp, fp := newCountingProxy(t, lab.LeaderURL), newCountingProxy(t, lab.FollowerURL)
		cfg := config(t, lp.srv.URL, "")
		waitCaughtUpVia(t, cfg, lab.FollowerURL, fp.srv.URL)
		lp.n.Store(0)
		fp.n.Store(0)
		_, st := statusVia(t, cfg, lab.FollowerURL, fp.srv.URL)
		return lp.n.Load() + fp.n.Load(), len(st.Pairs[0].Observation.Follower.Replication.Indices)
	}
	before, n1 := count()
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("bulk-%02d", i)
		names = append(names, name)
		osOK(t, lab.LeaderURL, "PUT", "/"+name, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
		writeDocs(t, name, 3)
		osOK(t, lab.FollowerURL, "PUT", "/_plugins/_replication/"+name+"/_start?wait_for_restore=true",
			fmt.Sprintf(`{"leader_alias":%q,"leader_index":%q}`, lab.Alias, name))
	}
	t.Cleanup(func() {
		for _, n := range names {
			osDo(t, lab.FollowerURL, "POST", "/_plugins/_replication/"+n+"/_stop", "{}")
			osDo(t, lab.FollowerURL, "DELETE", "/"+n, "")
			osDo(t, lab.LeaderURL, "DELETE", "/"+n, "")
		}
	})
	after, n2 := count()
	if n2 != n1+20 {
		t.Fatalf("follower indices: %d then %d, want +20", n1, n2)
	}
	if after != before {
		t.Fatalf("requests per cycle: %d with %d indices, %d with %d", before, n1, after, n2)
	}
	t.Logf("requests per cycle: %d with %d follower indices and with %d", before, n1, n2)
}

func statusVia(t *testing.T, cfg, from, to string) (int, statusJSON) {
	t.Helper()
	rewrite(t, cfg, from, to)
	return status(t, cfg)
}

func waitCaughtUpVia(t *testing.T, cfg, from, to string) statusJSON {
	t.Helper()
	rewrite(t, cfg, from, to)
	return waitCaughtUp(t, cfg)
}

func rewrite(t *testing.T, cfg, from, to string) {
	t.Helper()
	b := readFile(t, cfg)
	writeFile(t, cfg, strings.Replace(b, from, to, 1))
}
