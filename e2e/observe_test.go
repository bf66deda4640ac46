//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// drwatch status against the real lab: leader health, the follower's
// witness, and - without the replication plugin - a replication failure
// classified as plugin_missing, never a lag of zero.
func TestStatusAgainstLab(t *testing.T) {
	cfg := config(t, "", "")
	code, st := status(t, cfg)
	o := st.Pairs[0].Observation
	if !o.Leader.Reachable || (o.Leader.Health != "green" && o.Leader.Health != "yellow") {
		t.Fatalf("leader = %+v", o.Leader)
	}
	if !o.Follower.Reachable || !o.Follower.Remote.Known || !o.Follower.Remote.Connected {
		t.Fatalf("witness = %+v", o.Follower.Remote)
	}
	if !lab.CCR {
		r := o.Follower.Replication
		if r.Failure == nil || r.Failure.Class != "plugin_missing" || len(r.Indices) != 0 || r.LagComplete {
			t.Fatalf("without the plugin replication must read as plugin_missing: %+v", r)
		}
		if code != 3 {
			t.Fatalf("status exit = %d, want 3 (a problem is shown)", code)
		}
	}
	// The text form is readable at a glance.
	_, text, _ := runCLI(t, "status", "--config", cfg)
	for _, want := range []string{"pair lab", "leader     UP", "witness    UP"} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
	t.Logf("drwatch status:\n%s", text)
}

// A probe cycle asks a fixed number of HTTP requests, counted at the
// servers (through counting proxies), and drwatch's own counter agrees.
func TestProbeRequestCountAtTheServers(t *testing.T) {
	lp, fp := newCountingProxy(t, lab.LeaderURL), newCountingProxy(t, lab.FollowerURL)
	cfgPath := config(t, lp.srv.URL, "")
	writeFile(t, cfgPath, strings.Replace(readFile(t, cfgPath), lab.FollowerURL, fp.srv.URL, 1))

	_, st := status(t, cfgPath)
	got := lp.n.Load() + fp.n.Load()
	if got != int64(st.Pairs[0].Observation.Requests) {
		t.Fatalf("servers saw %d requests, drwatch counted %d", got, st.Pairs[0].Observation.Requests)
	}
	// The leader: cluster health and its write blocks, and - when there
	// are follower indices (without the plugin there are none, and
	// nothing to read) - the sequence numbers of the leader indices and,
	// in a first cycle, their retention lease period.
	wantLeader := int64(2)
	if len(st.Pairs[0].Observation.Follower.Replication.Indices) > 0 {
		wantLeader = 4
	}
	if lp.n.Load() != wantLeader {
		t.Errorf("leader saw %d requests, want %d", lp.n.Load(), wantLeader)
	}
	// remote info, follower_stats, autofollow_stats, follower-index
	// settings, the follower's shard sequence numbers, the witness's
	// cross-cluster search.
	if fp.n.Load() != 6 {
		t.Errorf("follower saw %d requests, want 6", fp.n.Load())
	}
}

// The daemon against the lab: metrics say leader up and witness connected;
// a bad config on SIGHUP is rejected and the old one keeps running.
func TestDaemonMetricsAndReload(t *testing.T) {
	cfg := config(t, "", "")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_config_last_reload_successful`, "1")

	good, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte("pairs: [oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitMetric(t, 10*time.Second, `drwatch_config_last_reload_successful`, "0")
	// Still probing with the old config.
	before, _ := d.metric(t, `drwatch_probe_http_requests_total{pair="lab"}`)
	eventually(t, 10*time.Second, "probes continue after a rejected reload", func() bool {
		v, _ := d.metric(t, `drwatch_probe_http_requests_total{pair="lab"}`)
		return v != before
	})
	if err := os.WriteFile(cfg, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitMetric(t, 10*time.Second, `drwatch_config_last_reload_successful`, "1")
}

// (d) The leader process is killed: drwatch reports it down with the right
// failure class, and the follower's witness reports the link lost.
func TestLeaderKilled(t *testing.T) {
	cfg := config(t, "", "")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	d.waitMetric(t, 10*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "1")

	killed := time.Now()
	killLeader(t)
	seen := d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
	t.Logf("drwatch saw the leader down %s after SIGKILL", seen.Round(time.Millisecond))
	witness := d.waitMetric(t, 60*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "0")
	t.Logf("follower witness reported the link lost %s after SIGKILL", time.Since(killed).Round(time.Millisecond))
	_ = witness

	if v, ok := d.metric(t, `drwatch_probe_failures_total{class="connection_refused",pair="lab",target="leader"}`); !ok || v == "0" {
		t.Errorf("connection_refused failures = %q, want > 0", v)
	}
	_, st := status(t, cfg)
	o := st.Pairs[0].Observation
	if o.Leader.Reachable || o.Leader.Failure == nil || o.Leader.Failure.Class != "connection_refused" {
		t.Fatalf("leader = %+v", o.Leader)
	}
	if !o.Follower.Reachable || o.Follower.Remote.Connected {
		t.Fatalf("witness = %+v", o.Follower.Remote)
	}
}

// drwatch cut off from the leader while the follower still sees it: the
// leader is unreachable to drwatch, but the witness says connected - the
// observation that must make the policy say "isolated", never "leader down".
func TestDrwatchCutOffFromLeader(t *testing.T) {
	for _, mode := range []string{"refused", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			host := strings.TrimPrefix(lab.LeaderURL, "http://")
			px := newTCPProxy(t, "drwatch-leader", host)
			cfg := config(t, "http://"+px.Addr(), "")
			d := startDaemon(t, cfg)
			d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")

			want := "connection_refused"
			if mode == "refused" {
				px.Cut()
			} else {
				px.Blackhole(t)
				want = "timeout"
			}
			d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
			// Hold the cut for a while: the witness must stay connected.
			for range 8 {
				time.Sleep(500 * time.Millisecond)
				if v, _ := d.metric(t, `drwatch_follower_remote_connected{pair="lab"}`); v != "1" {
					t.Fatalf("the follower still sees the leader, but the witness metric = %q", v)
				}
			}
			series := fmt.Sprintf(`drwatch_probe_failures_total{class=%q,pair="lab",target="leader"}`, want)
			if v, ok := d.metric(t, series); !ok || v == "0" {
				t.Errorf("%s = %q, want > 0", series, v)
			}
		})
	}
}

// The leader frozen (SIGSTOP): drwatch's probes time out; resumed, the
// leader is up again.
func TestLeaderFrozen(t *testing.T) {
	cfg := config(t, "", "")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	resume := freezeLeader(t)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
	if v, ok := d.metric(t, `drwatch_probe_failures_total{class="timeout",pair="lab",target="leader"}`); !ok || v == "0" {
		t.Errorf("timeout failures = %q, want > 0", v)
	}
	witness, _ := d.metric(t, `drwatch_follower_remote_connected{pair="lab"}`)
	t.Logf("witness while the leader is frozen: connected=%s", witness)
	resume()
	took := d.waitMetric(t, 30*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	t.Logf("leader up again %s after SIGCONT", took.Round(time.Millisecond))
}

// The follower's link to the leader cut (remote cluster in proxy mode
// through a TCP proxy) while drwatch still reaches the leader: the witness
// reports disconnected, the leader stays up.
func TestFollowerLinkCut(t *testing.T) {
	px := newTCPProxy(t, "follower-leader", lab.LeaderTransport)
	useProxy(t, px.Addr())
	t.Cleanup(func() { useSeeds(t) })
	waitRemoteConnected(t, 60*time.Second)

	cfg := config(t, "", "")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "1")
	px.Cut()
	took := d.waitMetric(t, 60*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "0")
	t.Logf("witness reported the cut link after %s", took.Round(time.Millisecond))
	if v, _ := d.metric(t, `drwatch_leader_up{pair="lab"}`); v != "1" {
		t.Fatalf("drwatch still reaches the leader: leader_up = %q", v)
	}
	_, st := status(t, cfg)
	if r := st.Pairs[0].Observation.Follower.Remote; !r.Known || r.Connected {
		t.Fatalf("remote = %+v", r)
	}
}

// useProxy routes the follower's remote connection through a TCP proxy.
func useProxy(t *testing.T, addr string) {
	t.Helper()
	if err := theLab.UseProxy(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
}

// useSeeds puts the follower's remote connection back on the leader's
// transport address (sniff mode, re-registering the replication plugin's
// repository for the alias: see lab.UseSeeds) and waits until it is
// connected.
func useSeeds(t *testing.T) {
	t.Helper()
	if err := theLab.UseSeeds(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitRemoteConnected(t, 60*time.Second)
}
