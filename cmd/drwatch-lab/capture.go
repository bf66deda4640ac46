package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/lab"
)

// capture records the replication plugin's real answers from a fresh lab
// into out (internal/testutil/fakeos/testdata/lab, the fixtures the unit
// tests' fake clusters serve). It takes the lab down, brings it up, walks it
// through running, lagging, paused, stopped and leader-down states, and
// takes it down again. Bodies are stored exactly as the clusters sent them.
func capture(ctx context.Context, l *lab.Lab, repo, out string) (err error) {
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil { //nolint:gosec // fixtures in the repo
		return err
	}
	if err := l.Down(ctx); err != nil {
		return err
	}
	env, err := l.Up(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(context.WithoutCancel(ctx)); err == nil {
			err = derr
		}
	}()
	if !env.CCR {
		return errors.New("capture needs the replication plugin in the lab (see deploy/lab/README.md)")
	}
	c := &capturer{ctx: ctx, out: out, lead: env.LeaderURL, foll: env.FollowerURL, alias: env.Alias}
	return c.run(l)
}

const (
	seqQuery      = "level=shards&filter_path=indices.*.shards.*.routing.primary,indices.*.shards.*.routing.state,indices.*.shards.*.seq_no"
	settingsQuery = "_settings/index.plugins.replication.follower.leader_index,index.number_of_shards?expand_wildcards=open,closed&ignore_unavailable=true&allow_no_indices=true&flat_settings=true"
	blocksQuery   = "/_cluster/state/metadata,blocks/stopme?filter_path=metadata.indices.*.state,blocks.indices&expand_wildcards=open,closed"
	labIndices    = "logs-1,orders-1,orders-2"
)

type capturer struct {
	ctx        context.Context
	out        string
	lead, foll string
	alias      string
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[capture %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// do sends one request with a raw JSON body and returns status and body.
func (c *capturer) do(method, url, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 60*time.Second)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// get returns the body of a 2xx answer.
func (c *capturer) get(url string) ([]byte, error) {
	code, b, err := c.do(http.MethodGet, url, "")
	if err != nil {
		return nil, err
	}
	if code/100 != 2 {
		return nil, fmt.Errorf("GET %s: HTTP %d %s", url, code, b)
	}
	return b, nil
}

// save stores the answer to one request as out/name.json, byte for byte,
// and prints its HTTP status.
func (c *capturer) save(name, method, url, body string) error {
	code, b, err := c.do(method, url, body)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(c.out, name+".json"), b, 0o644); err != nil { //nolint:gosec // fixtures in the repo
		return err
	}
	fmt.Printf("%-40s HTTP %d\n", name+".json", code)
	return nil
}

// write indexes n documents into index on the leader, one operation each.
func (c *capturer) write(index string, n int) error {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "{\"index\":{}}\n{\"n\":%d}\n", i)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.lead+"/"+index+"/_bulk", &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Errors *bool `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("bulk into %s: HTTP %d: %w", index, resp.StatusCode, err)
	}
	if r.Errors == nil || *r.Errors {
		return fmt.Errorf("bulk into %s: HTTP %d, some items failed", index, resp.StatusCode)
	}
	return nil
}

// until polls cond once a second for at most limit.
func (c *capturer) until(limit time.Duration, what string, cond func() bool) error {
	start := time.Now()
	for !cond() {
		if time.Since(start) >= limit {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (c *capturer) followerStats() (lab.FollowerStats, error) {
	b, err := c.get(c.foll + "/_plugins/_replication/follower_stats")
	if err != nil {
		return lab.FollowerStats{}, err
	}
	return lab.ParseFollowerStats(b)
}

// caughtUp: the follower_stats checkpoints sum to the leader's primaries'
// max_seq_no sum.
func (c *capturer) caughtUp() bool {
	b, err := c.get(c.lead + "/orders-1,orders-2,logs-1/_stats/docs?" + seqQuery)
	if err != nil {
		return false
	}
	lsum, err := lab.PrimaryMaxSeqNoSum(b)
	if err != nil {
		return false
	}
	st, err := c.followerStats()
	return err == nil && st.FollowerCheckpointSum() == lsum
}

func (c *capturer) statusIs(index, want string) func() bool {
	return func() bool {
		b, err := c.get(c.foll + "/_plugins/_replication/" + index + "/_status")
		if err != nil {
			return false
		}
		st, err := lab.ParseReplicationStatus(b)
		return err == nil && st == want
	}
}

func (c *capturer) run(l *lab.Lab) error {
	b, err := c.get(c.lead + "/")
	if err != nil {
		return err
	}
	version, err := lab.ParseVersion(b)
	if err != nil {
		return err
	}
	logf("lab up; version: %s", version)
	F, L := c.foll, c.lead
	repl := F + "/_plugins/_replication/"
	steps := []func() error{
		func() error { return c.writeAll(20, "orders-1", "orders-2", "logs-1") },
		func() error { return c.until(120*time.Second, "caught up", c.caughtUp) },
		c.log("running"),
		c.saveStep("follower_stats_running", "GET", repl+"follower_stats", ""),
		c.saveStep("autofollow_stats", "GET", repl+"autofollow_stats", ""),
		c.saveStep("status_syncing", "GET", repl+"orders-1/_status", ""),
		c.saveStep("status_syncing_verbose", "GET", repl+"orders-1/_status?verbose=true", ""),
		c.saveStep("follower_settings", "GET", F+"/*,-.*/"+settingsQuery, ""),
		c.saveStep("leader_seqnos_running", "GET", L+"/"+labIndices+"/_stats/docs?"+seqQuery, ""),
		c.saveStep("follower_seqnos_running", "GET", F+"/*,-.*/_stats/docs?"+seqQuery, ""),
		c.saveStep("remote_info_sniff_connected", "GET", F+"/_remote/info", ""),

		c.log("40 writes into orders-2, read at once: the follower's view against the leader's own"),
		func() error { return c.write("orders-2", 40) },
		c.saveStep("follower_stats_lagging", "GET", repl+"follower_stats", ""),
		c.saveStep("follower_seqnos_lagging", "GET", F+"/*,-.*/_stats/docs?"+seqQuery, ""),
		c.saveStep("leader_seqnos_lagging", "GET", L+"/"+labIndices+"/_stats/docs?"+seqQuery, ""),
		func() error { return c.until(120*time.Second, "caught up", c.caughtUp) },

		c.log("orders-2 paused, 7 writes"),
		c.saveStep("pause_ack", "POST", repl+"orders-2/_pause", "{}"),
		func() error { return c.until(60*time.Second, "orders-2 PAUSED", c.statusIs("orders-2", "PAUSED")) },
		func() error { return c.write("orders-2", 7) },
		c.saveStep("status_paused", "GET", repl+"orders-2/_status", ""),
		c.saveStep("follower_stats_paused", "GET", repl+"follower_stats", ""),
		c.saveStep("leader_seqnos_paused", "GET", L+"/"+labIndices+"/_stats/docs?"+seqQuery, ""),
		c.saveStep("follower_seqnos_paused", "GET", F+"/*,-.*/_stats/docs?"+seqQuery, ""),
		c.saveStep("resume_ack", "POST", repl+"orders-2/_resume", "{}"),
		func() error { return c.until(120*time.Second, "caught up", c.caughtUp) },

		c.log("a plain index, and an index stopped twice"),
		c.must("PUT", F+"/plain", `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`),
		c.saveStep("status_not_in_progress", "GET", repl+"plain/_status", ""),
		c.must("PUT", L+"/stopme", `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`),
		func() error { return c.write("stopme", 3) },
		c.saveStep("start_ack", "PUT", repl+"stopme/_start?wait_for_restore=true", fmt.Sprintf(`{"leader_alias":%q,"leader_index":"stopme"}`, c.alias)),
		c.saveStep("follower_settings_before_stop", "GET", F+"/stopme/"+settingsQuery, ""),
		c.saveStep("cluster_state_follower_block", "GET", F+blocksQuery, ""),
		c.saveStep("stop_ack", "POST", repl+"stopme/_stop", "{}"),
		c.saveStep("stop_not_in_progress_error", "POST", repl+"stopme/_stop", "{}"),
		c.saveStep("follower_settings_after_stop", "GET", F+"/stopme/"+settingsQuery, ""),
		c.saveStep("cluster_state_after_stop", "GET", F+blocksQuery, ""),
		c.saveStep("delete_autofollow_unknown_error", "DELETE", repl+"_autofollow", fmt.Sprintf(`{"leader_alias":%q,"name":"no-such-rule"}`, c.alias)),

		c.log("leader SIGKILLed"),
		func() error { _, err := l.Kill(lab.Leader); return err },
		func() error {
			return c.until(30*time.Second, "follower disconnected", func() bool {
				ok, err := l.RemoteConnected(c.ctx)
				return err == nil && !ok
			})
		},
		c.saveStep("remote_info_sniff_disconnected", "GET", F+"/_remote/info", ""),
		c.saveStep("status_leader_down_error", "GET", repl+"orders-1/_status", ""),
		func() error {
			return c.until(900*time.Second, "failed reads on the follower", func() bool {
				st, err := c.followerStats()
				return err == nil && st.FailedReadRequests > 0
			})
		},
		c.saveStep("follower_stats_leader_down", "GET", repl+"follower_stats", ""),
		c.saveStep("follower_seqnos_leader_down", "GET", F+"/*,-.*/_stats/docs?"+seqQuery, ""),
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	stamp := fmt.Sprintf("captured %s from OpenSearch %s with the replication plugin %s by drwatch-lab capture\n",
		time.Now().UTC().Format("2006-01-02T15:04:05Z"), version, l.Config().CCRVersion)
	if err := os.WriteFile(filepath.Join(c.out, "CAPTURED"), []byte(stamp), 0o644); err != nil { //nolint:gosec // fixtures in the repo
		return err
	}
	logf("done: %s", c.out)
	return nil
}

func (c *capturer) writeAll(n int, indices ...string) error {
	for _, ix := range indices {
		if err := c.write(ix, n); err != nil {
			return err
		}
	}
	return nil
}

func (c *capturer) log(s string) func() error {
	return func() error { logf("%s", s); return nil }
}

func (c *capturer) saveStep(name, method, url, body string) func() error {
	return func() error { return c.save(name, method, url, body) }
}

// must sends a set-up request that has to succeed.
func (c *capturer) must(method, url, body string) func() error {
	return func() error {
		code, b, err := c.do(method, url, body)
		if err != nil {
			return err
		}
		if code/100 != 2 {
			return fmt.Errorf("%s %s: HTTP %d %s", method, url, code, b)
		}
		return nil
	}
}
