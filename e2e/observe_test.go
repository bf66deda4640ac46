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

// The observation matrix: one fault per row, and what drwatch must
// observe while it holds - the leader up or down, the failure's class, the
// follower's witness - checked in the metrics and in the status's
// observation; then healed, the leader up again. Adding a fault is one
// row.

type obsCell struct {
	name string
	// drwatchLink, followerLink: the link goes through a TCP proxy the
	// fault can cut.
	drwatchLink, followerLink bool
	// fault breaks something and returns how to heal it (nil: the
	// cleanups heal it, e.g. a killed leader's restart).
	fault func(t *testing.T, r *links) (heal func())
	// leaderUp: drwatch_leader_up while the fault holds.
	leaderUp bool
	// class: the leader probe's failure class ("" with leaderUp).
	class string
	// witness: the follower's remote while the fault holds, "connected"
	// or "lost" ("": not asserted); witnessHolds: checked to stay so for
	// 4s (the cut held), else waited for (the follower notices a lost
	// link within its own timeouts).
	witness      string
	witnessHolds bool
	// recovers: after the heal, the leader is up again within 30s.
	recovers bool
}

func TestObservationMatrix(t *testing.T) {
	cells := []obsCell{
		{
			name:  "leader SIGKILL",
			fault: func(t *testing.T, r *links) func() { killLeader(t); return nil },
			class: "connection_refused", witness: "lost",
		},
		{
			name: "drwatch cut off from the leader (refused)", drwatchLink: true,
			fault: func(t *testing.T, r *links) func() { r.dpx.Cut(); return func() { r.dpx.Restore(t) } },
			// The observation that must make the policy say "isolated",
			// never "leader down": the follower still sees the leader.
			class: "connection_refused", witness: "connected", witnessHolds: true, recovers: true,
		},
		{
			name: "drwatch cut off from the leader (blackhole)", drwatchLink: true,
			fault: func(t *testing.T, r *links) func() { r.dpx.Blackhole(t); return func() { r.dpx.Heal(t) } },
			class: "timeout", witness: "connected", witnessHolds: true, recovers: true,
		},
		{
			name:  "leader SIGSTOP",
			fault: func(t *testing.T, r *links) func() { return freezeLeader(t) },
			// The witness is not asserted: a frozen leader's transport
			// connections stay open for a while.
			class: "timeout", recovers: true,
		},
		{
			name: "follower's link to the leader cut", followerLink: true,
			fault:    func(t *testing.T, r *links) func() { r.fpx.Cut(); return nil },
			leaderUp: true, witness: "lost",
		},
	}
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) { runObsCell(t, c) })
	}
}

func runObsCell(t *testing.T, c obsCell) {
	r, leaderURL := newLinks(t, c.drwatchLink, c.followerLink)
	cfg := config(t, leaderURL, "")
	d := startDaemon(t, cfg)
	d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
	d.waitMetric(t, 30*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, "1")

	start := time.Now()
	heal := c.fault(t, r)
	if !c.leaderUp {
		took := d.waitMetric(t, 10*time.Second, `drwatch_leader_up{pair="lab"}`, "0")
		t.Logf("OBSERVE %s: the leader down %s after the fault", c.name, took.Round(time.Millisecond))
	}
	connected := b01(c.witness == "connected")
	switch {
	case c.witness == "":
	case c.witnessHolds:
		for range 8 {
			time.Sleep(500 * time.Millisecond)
			if v, _ := d.metric(t, `drwatch_follower_remote_connected{pair="lab"}`); v != connected {
				t.Fatalf("the follower's witness metric = %q while the fault holds, want %s (%s)", v, connected, c.witness)
			}
		}
	default:
		d.waitMetric(t, 60*time.Second, `drwatch_follower_remote_connected{pair="lab"}`, connected)
		t.Logf("OBSERVE %s: the witness %s %s after the fault", c.name, c.witness, time.Since(start).Round(time.Millisecond))
	}
	if v, _ := d.metric(t, `drwatch_leader_up{pair="lab"}`); v != b01(c.leaderUp) {
		t.Fatalf("drwatch_leader_up = %q while the fault holds, want %s", v, b01(c.leaderUp))
	}
	_, st := status(t, cfg)
	o := st.Pairs[0].Observation
	if o.Leader.Reachable != c.leaderUp {
		t.Fatalf("the status's leader = %+v, want reachable=%v", o.Leader, c.leaderUp)
	}
	if c.class != "" {
		if o.Leader.Failure == nil || o.Leader.Failure.Class != c.class {
			t.Fatalf("the status's leader failure = %+v, want class %s", o.Leader.Failure, c.class)
		}
		series := fmt.Sprintf(`drwatch_probe_failures_total{class=%q,pair="lab",target="leader"}`, c.class)
		if v, ok := d.metric(t, series); !ok || v == "0" {
			t.Errorf("%s = %q, want > 0", series, v)
		}
	}
	if c.witness != "" {
		if rm := o.Follower.Remote; !o.Follower.Reachable || !rm.Known || rm.Connected != (c.witness == "connected") {
			t.Fatalf("the status's follower = reachable %v, remote %+v; want the remote %s", o.Follower.Reachable, rm, c.witness)
		}
	}
	if heal != nil {
		heal()
	}
	if c.recovers {
		took := d.waitMetric(t, 30*time.Second, `drwatch_leader_up{pair="lab"}`, "1")
		t.Logf("OBSERVE %s: the leader up again %s after the heal", c.name, took.Round(time.Millisecond))
	}
}

// b01 is a boolean as a 0/1 metric value.
func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
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
