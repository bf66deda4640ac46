// Command demo is `make demo`: a real leader and follower on this machine
// (internal/lab), drwatch watching them in auto mode, and two acts.
//
// Act 1: documents written with known ids, drwatch's lag (measured on both
// clusters) waited down to 0 and checked against the clusters, the leader
// killed (SIGKILL), the follower promoted; every acknowledged write is
// looked up by id on the promoted follower, and the time from the kill to
// the first write the promoted follower acknowledges (RTO) is measured.
//
// Act 2: the leader restarted, new indices replicated, a client writing
// continuously, the leader killed mid-stream: drwatch either promotes -
// and the demo counts the acknowledged writes lost against
// max_lag_operations - or holds for approval and says why.
//
// Everything it prints is read from the clusters or from drwatch's API.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
	"github.com/drwatch/drwatch/internal/hooks"
	"github.com/drwatch/drwatch/internal/lab"
)

// The lab's clusters (deploy/examples/lab-*.yml name the same ports).
var leaderURL, followerURL string

// t0 is the kill of the current act.
var t0 time.Time

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	l, err := openLab()
	if err != nil {
		return err
	}
	cfg := l.Config()
	say(fmt.Sprintf("1. A fresh lab: leader %s, follower %s, with the replication plugin", cfg.URL(lab.Leader), cfg.URL(lab.Follower)))
	if err := l.Down(ctx); err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	env, err := l.Up(ctx)
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	leaderURL, followerURL = env.LeaderURL, env.FollowerURL
	labEnv = env
	if env.Security {
		if err := useAdmin(env); err != nil {
			return err
		}
		fmt.Printf("   secured lab (LAB_SECURITY=1): TLS from the lab's CA; drwatch runs as user %s with the roles of deploy/security\n", env.DrwatchUser)
	}
	if !env.CCR {
		return errors.New("the lab has no replication plugin: nothing replicates, so there is no failover to show (see deploy/lab/README.md)")
	}
	if err := actOne(l); err != nil {
		return err
	}
	return actTwo(ctx, l)
}

func openLab() (*lab.Lab, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	repo, err := lab.FindRepo(wd)
	if err != nil {
		return nil, err
	}
	cfg, err := lab.FromEnv(repo, os.Getenv)
	if err != nil {
		return nil, err
	}
	return lab.Open(cfg, os.Stderr)
}

// ---- act 1 ------------------------------------------------------------------

func actOne(l *lab.Lab) error {
	indices := []string{"orders-1", "orders-2", "logs-1"}
	cfg, err := demoConfig("deploy/examples/lab-failover.yml")
	if err != nil {
		return err
	}
	say("2. drwatch in auto mode (" + cfg + "): leader down after 5s and 3 failed probes, follower witness required, max_lag_operations 100")
	d, err := startDrwatch(cfg, "127.0.0.1:9464", "bin/demo-state", "bin/demo.log")
	if err != nil {
		return err
	}
	defer d.stop()

	const docs = 200
	say(fmt.Sprintf("3. Writing %d documents with known ids into each of %s on the leader", docs, strings.Join(indices, ", ")))
	ackedIDs := map[string][]string{}
	for _, idx := range indices {
		ids, err := acked.Bulk(context.Background(), leaderURL, idx, 0, docs)
		if err != nil {
			return err
		}
		ackedIDs[idx] = ids
		fmt.Printf("   %-9s the leader acknowledged %d writes\n", idx, len(ids))
	}
	fmt.Println("   waiting until drwatch measures lag 0 on every index (the leader's own checkpoints minus the follower's)...")
	written := time.Now()
	if err := waitFor(120*time.Second, func() (bool, error) {
		st, err := d.status()
		if err != nil || !st.Observation.Time.After(written) { // a probe that began after the writes
			return false, nil
		}
		r := st.Observation.Follower.Replication
		return r.LagComplete && r.MaxLag == 0 && len(r.Indices) == len(indices) && st.Decision != nil && st.Decision.RPOGuard, nil
	}); err != nil {
		return fmt.Errorf("drwatch never measured lag 0: %w", err)
	}
	for _, idx := range indices {
		miss, err := acked.Missing(context.Background(), followerURL, idx, ackedIDs[idx])
		if err != nil {
			return err
		}
		if len(miss) > 0 {
			return fmt.Errorf("drwatch said lag 0, but the follower lacks %d acknowledged writes of %s", len(miss), idx)
		}
	}
	fmt.Println("   drwatch: lag 0, RPO guard passing - checked on the follower: it holds every acknowledged write")
	_ = drwatchCLI("status", "--config", cfg)

	say("4. Killing the leader (SIGKILL)")
	rto := make(chan time.Duration, 1)
	if err := kill(l); err != nil {
		return err
	}
	go firstWrite("orders-1", rto)
	final, err := d.timeline(120 * time.Second)
	if err != nil {
		return err
	}

	say("5. Result, counted by id on the follower")
	if final != "promoted" {
		fmt.Printf("   drwatch did not promote: state %s (the journal below says why)\n", final)
	} else {
		lost := 0
		for _, idx := range indices {
			miss, err := acked.Missing(context.Background(), followerURL, idx, ackedIDs[idx])
			if err != nil {
				return err
			}
			lost += len(miss)
			fmt.Printf("   %-9s acknowledged %d, on the promoted follower %d, lost %d\n", idx, len(ackedIDs[idx]), len(ackedIDs[idx])-len(miss), len(miss))
		}
		select {
		case d := <-rto:
			fmt.Printf("   RTO: the promoted follower acknowledged its first write %.1fs after the SIGKILL\n", d.Seconds())
		case <-time.After(30 * time.Second):
			fmt.Println("   the promoted follower did not accept a write within 30s")
		}
		fmt.Printf("   every acknowledged write accounted for: %d lost\n", lost)
		if lost > 0 {
			defer fmt.Println("\n!!! acknowledged writes were lost in act 1")
		}
	}
	say("6. The journal: every decision, when and why")
	_ = drwatchCLI("history", "--config", cfg)
	say("7. The pages: what the hook (deploy/examples/lab-failover.yml's demo-pager) was sent")
	if err := printPages("bin/demo-state/pages.jsonl"); err != nil {
		fmt.Printf("   cannot read the pages: %v\n", err)
	}
	return nil
}

// printPages prints the events an exec hook kept, one JSON object per
// line: when, the title, and what drwatch said it would do next.
func printPages(path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // the demo's own file under bin/
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ev hooks.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return fmt.Errorf("%s: not an event: %w", path, err)
		}
		fmt.Printf("   %s  %-8s %s\n", ev.At.Local().Format("15:04:05.000"), ev.Action, ev.Title())
		fmt.Printf("   %12s  next: %s\n", "", ev.Next)
	}
	return nil
}

// ---- act 2 ------------------------------------------------------------------

func actTwo(ctx context.Context, l *lab.Lab) error {
	cfg, err := demoConfig("deploy/examples/lab-stream.yml")
	if err != nil {
		return err
	}
	indices := []string{"stream-1", "stream-2"}
	say("8. Act two: the leader restarted, " + strings.Join(indices, " and ") + " replicated, a client writing continuously")
	if err := l.StartNode(ctx, lab.Leader); err != nil {
		return fmt.Errorf("restart the leader: %w", err)
	}
	for _, idx := range indices {
		if _, err := call(leaderURL, http.MethodPut, "/"+idx, `{"settings":{"number_of_shards":2,"number_of_replicas":0}}`); err != nil {
			return err
		}
		if _, err := call(followerURL, http.MethodPut, "/_plugins/_replication/"+idx+"/_start?wait_for_restore=true",
			`{"leader_alias":"leader","leader_index":"`+idx+`"`+useRoles()+`}`); err != nil {
			return err
		}
	}
	d, err := startDrwatch(cfg, "127.0.0.1:9465", "bin/demo-state-stream", "bin/demo-stream.log")
	if err != nil {
		return err
	}
	defer d.stop()
	w := acked.StartStream(leaderURL, indices, 10*time.Millisecond)
	if err := waitFor(60*time.Second, func() (bool, error) {
		st, err := d.status()
		return err == nil && st.Decision != nil && st.Decision.RPOGuard, nil
	}); err != nil {
		return fmt.Errorf("the RPO guard never passed under writes: %w", err)
	}
	time.Sleep(5 * time.Second)
	st, _ := d.status()
	fmt.Printf("   %d writes acknowledged so far; drwatch: %s\n", w.Total(), st.Decision.RPOGuardReason)

	say("9. Killing the leader mid-stream (SIGKILL)")
	if err := kill(l); err != nil {
		return err
	}
	final, err := d.timeline(120 * time.Second)
	w.Halt()
	if err != nil {
		return err
	}
	say("10. Result, counted by id on the follower")
	st, _ = d.status()
	lost := 0
	for _, idx := range indices {
		ids := w.Acked(idx)
		miss, err := acked.Missing(context.Background(), followerURL, idx, ids)
		if err != nil {
			return err
		}
		lost += len(miss)
		fmt.Printf("   %-9s acknowledged %d, on the follower %d, missing %d\n", idx, len(ids), len(ids)-len(miss), len(miss))
	}
	switch final {
	case "promoted":
		verdict := "within"
		if lost > 100 {
			verdict = "OVER"
		}
		fmt.Printf("   drwatch promoted unattended: %d acknowledged writes lost, %s max_lag_operations (100)\n", lost, verdict)
	default:
		fmt.Printf("   drwatch holds for approval (%s): %s\n", final, strings.Join(st.Decision.Reasons, "; "))
		fmt.Printf("   if a human approves now, %d acknowledged writes are lost (drwatch estimated: %s)\n", lost, st.Decision.RPOGuardReason)
	}
	fmt.Printf("\nThe lab is still up (with its leader dead): make lab-down stops it.\n")
	return nil
}

// ---- drwatch ------------------------------------------------------------------

type drwatch struct {
	cmd  *exec.Cmd
	addr string
	cfg  string
}

func startDrwatch(cfg, addr, state, logPath string) (*drwatch, error) {
	if err := os.RemoveAll(state); err != nil {
		return nil, err
	}
	if err := drwatchCLI("check", "--config", cfg); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath) //nolint:gosec // the demo's own log under bin/
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(context.Background(), "bin/drwatch", "run", "--config", cfg, "--log-format", "console")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &drwatch{cmd: cmd, addr: addr, cfg: cfg}
	if err := waitFor(30*time.Second, func() (bool, error) {
		_, err := apiCall("http://"+addr, "/-/ready")
		return err == nil, nil
	}); err != nil {
		d.stop()
		return nil, fmt.Errorf("drwatch not ready (log: %s): %w", logPath, err)
	}
	fmt.Printf("   drwatch is up: http://%s/metrics, http://%s/api/v1/status (log: %s)\n", addr, addr, logPath)
	return d, nil
}

func (d *drwatch) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	_ = d.cmd.Wait()
}

// pairStatus is the part of GET /api/v1/status/{pair} the demo reads.
type pairStatus struct {
	Decision *struct {
		State          string   `json:"state"`
		Reasons        []string `json:"reasons"`
		RPOGuard       bool     `json:"rpo_guard_passes"`
		RPOGuardReason string   `json:"rpo_guard"`
	} `json:"decision"`
	Observation *struct {
		Time     time.Time `json:"time"`
		Follower struct {
			Replication struct {
				LagComplete bool  `json:"lag_complete"`
				MaxLag      int64 `json:"max_lag_operations"`
				Indices     []struct {
					Name string `json:"name"`
				} `json:"indices"`
			} `json:"replication"`
		} `json:"follower"`
	} `json:"observation"`
}

func (d *drwatch) status() (pairStatus, error) {
	var st struct {
		Pairs []pairStatus `json:"pairs"`
	}
	b, err := apiCall("http://"+d.addr, "/api/v1/status")
	if err != nil {
		return pairStatus{}, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return pairStatus{}, fmt.Errorf("status: %w", err)
	}
	if len(st.Pairs) != 1 || st.Pairs[0].Observation == nil {
		return pairStatus{}, fmt.Errorf("status: %d pairs, want one observed", len(st.Pairs))
	}
	return st.Pairs[0], nil
}

// timeline prints every state change from the kill on, until a final
// state (promoted, awaiting_approval, failed).
func (d *drwatch) timeline(within time.Duration) (string, error) {
	last := ""
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		st, err := d.status()
		if err == nil && st.Decision != nil && st.Decision.State != last {
			last = st.Decision.State
			fmt.Printf("   %s  +%5.1fs  %s\n", time.Now().Format("15:04:05.000"), time.Since(t0).Seconds(), last)
			switch last {
			case "promoted", "awaiting_approval", "failed":
				return last, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last, fmt.Errorf("no final state within %s (last: %s)", within, last)
}

func drwatchCLI(args ...string) error {
	cmd := exec.CommandContext(context.Background(), "bin/drwatch", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// ---- the lab ------------------------------------------------------------------

// kill SIGKILLs the leader's process tree; t0 is the moment of the kill.
func kill(l *lab.Lab) error {
	t0 = time.Now()
	pid, err := l.Kill(lab.Leader)
	if err != nil {
		return err
	}
	fmt.Printf("   %s  leader killed (pid %d)\n", t0.Format("15:04:05.000"), pid)
	return nil
}

// ---- writes, by id ------------------------------------------------------------------

// call sends one request to base+path, with a 3-minute limit.
func call(base, method, path, body string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return acked.Call(ctx, method, base+path, body)
}

// firstWrite writes to the follower until it acknowledges one (the RTO).
func firstWrite(index string, out chan<- time.Duration) {
	for time.Since(t0) < 2*time.Minute {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := acked.Call(ctx, http.MethodPost, followerURL+"/"+index+"/_doc", `{"after":"failover"}`)
		cancel()
		if err == nil {
			out <- time.Since(t0)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiCall reads drwatch's own API (plain HTTP on loopback, no credentials:
// the clusters' are never sent to it).
func apiCall(base, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("GET %s%s: HTTP %d %s", base, path, resp.StatusCode, b)
	}
	return b, nil
}

// ---- the secured lab ------------------------------------------------------------------

var labEnv lab.Env

// useAdmin makes the demo's own writes and reads go as the lab's admin,
// over TLS trusting the lab's CA.
func useAdmin(env lab.Env) error {
	ca, err := os.ReadFile(env.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return fmt.Errorf("%s holds no certificate", env.CAFile)
	}
	pw, err := os.ReadFile(env.AdminPasswordFile)
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	acked.Use(tr, env.AdminUser, strings.TrimSpace(string(pw)))
	return nil
}

func useRoles() string {
	if !labEnv.Security {
		return ""
	}
	return fmt.Sprintf(`,"use_roles":{"leader_cluster_role":%q,"follower_cluster_role":%q}`, labEnv.LeaderRole, labEnv.FollowerRole)
}

// demoConfig is the example config to run drwatch with: as it is, or, on a
// secured lab, in bin/ with https URLs and the drwatch user's credentials
// on both clusters.
func demoConfig(example string) (string, error) {
	if !labEnv.Security {
		return example, nil
	}
	b, err := os.ReadFile(example) //nolint:gosec // the checkout's example
	if err != nil {
		return "", err
	}
	s := string(b)
	creds := fmt.Sprintf("      username: %s\n      password_file: %s\n      ca_file: %s\n", labEnv.DrwatchUser, labEnv.DrwatchPasswordFile, labEnv.CAFile)
	for _, u := range []struct{ plain, secure string }{
		{strings.Replace(labEnv.LeaderURL, "https://", "http://", 1), labEnv.LeaderURL},
		{strings.Replace(labEnv.FollowerURL, "https://", "http://", 1), labEnv.FollowerURL},
	} {
		line := "      url: " + u.plain + "\n"
		if !strings.Contains(s, line) {
			return "", fmt.Errorf("%s has no line %q to secure", example, strings.TrimSpace(line))
		}
		s = strings.Replace(s, line, "      url: "+u.secure+"\n"+creds, 1)
	}
	out := filepath.Join("bin", strings.TrimSuffix(filepath.Base(example), ".yml")+"-secure.yml")
	if err := os.WriteFile(out, []byte(s), 0o600); err != nil {
		return "", err
	}
	return out, nil
}

// ---- helpers ------------------------------------------------------------------

func say(s string) { fmt.Printf("\n\033[1m== %s\033[0m\n", s) }

func waitFor(within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %s", within)
}
