package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Up brings the lab up and returns its Env. It is idempotent: a healthy lab
// is left as it is; otherwise it converges: it fetches and installs what is
// missing, starts the nodes that are down, configures the remote cluster
// and creates missing indices and replication. After a failed Up the node
// logs have been printed and the lab is left as it is; Down cleans up.
func (l *Lab) Up(ctx context.Context) (Env, error) {
	unlock, err := l.lockAll()
	if err != nil {
		return Env{}, err
	}
	defer unlock()
	t0 := time.Now()
	javaHome, err := resolveJava(ctx, l.cfg.JavaHome, minJava(l.cfg.Version))
	if err != nil {
		return Env{}, err
	}
	if l.isHealthy(ctx) {
		l.logf("lab already up and healthy (%s)", l.cfg.Dir)
		return l.env(), nil
	}
	plugin := ""
	var sec *securityInstall
	if !l.installed(Leader) || !l.installed(Follower) {
		if plugin, err = l.Fetch(ctx); err != nil {
			return Env{}, err
		}
		if l.cfg.Security {
			sec = &securityInstall{}
			if sec.zip, err = l.fetchSecurity(ctx); err != nil {
				return Env{}, err
			}
		}
	}
	ras, err := l.lookupRunAs(ctx)
	if err != nil {
		return Env{}, err
	}
	if err := l.install(ctx, javaHome, plugin, sec, ras); err != nil {
		return Env{}, err
	}
	for _, n := range l.cfg.AllMembers() {
		if err := l.launch(n, javaHome, ras); err != nil {
			return Env{}, err
		}
	}
	if err := l.waitHealthy(ctx, l.cfg.AllMembers()...); err != nil {
		return Env{}, err
	}
	if l.cfg.ProxyAddress != "" {
		err = l.UseProxy(ctx, l.cfg.ProxyAddress)
	} else {
		err = l.UseSeeds(ctx)
	}
	if err != nil {
		return Env{}, err
	}
	l.st.ProxyAddress = l.cfg.ProxyAddress
	if err := l.save(); err != nil {
		return Env{}, err
	}
	if err := l.WaitRemoteConnected(ctx, l.cfg.Timeout); err != nil {
		return Env{}, err
	}
	for _, ix := range []struct {
		name, kind string
		shards     int
	}{{"orders-1", "orders", 2}, {"orders-2", "orders", 2}, {"logs-1", "logs", 1}} {
		if err := l.createSampleIndex(ctx, ix.name, ix.kind, ix.shards); err != nil {
			return Env{}, err
		}
	}
	env := l.env()
	if env.CCR {
		if err := l.setupReplication(ctx); err != nil {
			return Env{}, err
		}
	} else {
		l.banner("NO CCR PLUGIN in this lab (CCR=0): replication of orders-1/orders-2 and the",
			"'logs' autofollow rule were NOT set up; _plugins/_replication/* does not exist.",
			"Set DRWATCH_CCR_PLUGIN_ZIP to a local plugin zip, then down and up again.")
	}
	now := time.Now().UTC()
	l.st.SetupDone = &now
	if err := l.save(); err != nil {
		return Env{}, err
	}
	l.logf("lab up in %s", time.Since(t0).Round(time.Second))
	return l.env(), nil
}

func (l *Lab) installed(n Node) bool {
	return l.st.node(n).Installed && exists(filepath.Join(l.cfg.Home(n), "bin", "opensearch"))
}

// isHealthy is whether Up has nothing to do: set up, with the same remote
// mode, both nodes running (not frozen) and healthy, the remote connected.
func (l *Lab) isHealthy(ctx context.Context) bool {
	if l.st.SetupDone == nil || l.st.ProxyAddress != l.cfg.ProxyAddress {
		return false
	}
	for _, n := range l.cfg.AllMembers() {
		pid, st := l.alive(n)
		if pid == 0 || st == 'T' || st == 't' || !l.healthy(ctx, n) {
			return false
		}
	}
	ok, err := l.RemoteConnected(ctx)
	return err == nil && ok
}

// install creates LAB_DIR and installs the nodes that are not installed.
func (l *Lab) install(ctx context.Context, javaHome, plugin string, sec *securityInstall, ras *runAs) error {
	c := l.cfg
	marker := filepath.Join(c.Dir, markerFile)
	if entries, err := os.ReadDir(c.Dir); err == nil && len(entries) > 0 && !exists(marker) {
		return fmt.Errorf("%s exists, is not empty and is not a lab dir (no %s); choose another LAB_DIR", c.Dir, markerFile)
	}
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) != c.Version { //nolint:gosec // the lab's marker
		return fmt.Errorf("%s holds OpenSearch %s, not %s; run down first", c.Dir, strings.TrimSpace(string(b)), c.Version)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil { //nolint:gosec // the node user must traverse it
		return err
	}
	if err := os.Chmod(c.Dir, 0o755); err != nil { //nolint:gosec // the node user must traverse it
		return err
	}
	if err := os.WriteFile(marker, []byte(c.Version+"\n"), 0o644); err != nil { //nolint:gosec // a marker
		return err
	}
	c.record(&l.st)
	for _, n := range c.AllMembers() {
		l.st.node(n)
	}
	if sec != nil {
		p, err := l.prepareSecurity(time.Now())
		if err != nil {
			return fmt.Errorf("LAB_SECURITY=1: %w", err)
		}
		sec.pki = p
	}
	if err := l.save(); err != nil {
		return err
	}
	members := c.AllMembers()
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 2) // two at a time: each runs JVMs to install plugins
	for i, n := range members {
		if l.installed(n) {
			continue
		}
		ns := l.st.node(n)
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if errs[i] = l.installNode(ctx, n, javaHome, plugin, sec); errs[i] == nil {
				ns.Installed, ns.CCR = true, plugin != ""
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errors.Join(errs...), l.save()); err != nil {
		return fmt.Errorf("installation failed: %w", err)
	}
	if ras == nil {
		return nil
	}
	for _, n := range members {
		if err := chownTree(c.Home(n), ras); err != nil {
			return err
		}
	}
	if err := os.Chown(c.Dir, int(ras.uid), int(ras.gid)); err != nil {
		return err
	}
	return checkRunAs(ctx, ras, filepath.Join(c.Home(Leader), "data"), javaHome)
}

// Down stops both nodes and removes LAB_DIR. It is safe to repeat.
func (l *Lab) Down(ctx context.Context) error {
	unlock, err := l.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	members := l.knownMembers()
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, n := range members {
		wg.Go(func() { errs[i] = l.stop(n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("could not stop the lab nodes: %w", err)
	}
	entries, err := os.ReadDir(l.cfg.Dir)
	if err == nil {
		if !exists(filepath.Join(l.cfg.Dir, markerFile)) && len(entries) > 0 {
			return fmt.Errorf("%s is not a lab dir (no %s); not removing it", l.cfg.Dir, markerFile)
		}
		if err := os.RemoveAll(l.cfg.Dir); err != nil {
			return err
		}
		l.logf("removed %s", l.cfg.Dir)
	}
	l.st = state{}
	l.procs = map[Node]*proc{}
	l.logf("lab is down")
	return ctx.Err()
}

// StartNode (re)starts node n on its existing data dir (fine after a
// SIGKILL) and waits until it is healthy and, in a set-up lab with both
// clusters' first nodes running, until the follower is connected to the
// leader again.
func (l *Lab) StartNode(ctx context.Context, n Node) error {
	return l.start(ctx, []Node{n})
}

// StartCluster (re)starts every node of a cluster that does not run, as
// StartNode does one.
func (l *Lab) StartCluster(ctx context.Context, cluster Node) error {
	return l.start(ctx, l.cfg.Members(cluster))
}

func (l *Lab) start(ctx context.Context, nodes []Node) error {
	unlock, err := l.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	for _, n := range nodes {
		if !l.installed(n) {
			return fmt.Errorf("%s is not installed in %s; run up first", n, l.cfg.Dir)
		}
	}
	javaHome, err := resolveJava(ctx, l.cfg.JavaHome, minJava(l.cfg.Version))
	if err != nil {
		return err
	}
	ras, err := l.lookupRunAs(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := l.launch(n, javaHome, ras); err != nil {
			return err
		}
	}
	if err := l.waitHealthy(ctx, nodes...); err != nil {
		return err
	}
	if l.st.SetupDone != nil {
		if lp, _ := l.alive(Leader); lp > 0 {
			if fp, _ := l.alive(Follower); fp > 0 {
				return l.WaitRemoteConnected(ctx, l.cfg.Timeout)
			}
		}
	}
	return nil
}

// KillCluster SIGKILLs every node of a cluster and waits until they are
// gone (StartCluster restarts them).
func (l *Lab) KillCluster(cluster Node) error {
	var errs []error
	for _, m := range l.cfg.Members(cluster) {
		if _, err := l.PID(m); err != nil {
			continue // not running
		}
		if _, err := l.Kill(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StopNode stops node n: SIGCONT, SIGTERM, SIGKILL after StopTimeout.
func (l *Lab) StopNode(ctx context.Context, n Node) error {
	unlock, err := l.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.stop(n); err != nil {
		return err
	}
	if err := l.save(); err != nil {
		return err
	}
	return ctx.Err()
}

// refresh re-reads lab.json (another process may have started a node).
func (l *Lab) refresh() {
	if st, ok, err := readState(l.statePath()); err == nil && ok {
		l.st = st
	}
}

// PID is node n's pid (the leader of its process group), or an error when
// it does not run.
func (l *Lab) PID(n Node) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refresh()
	pid, _ := l.alive(n)
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", n)
	}
	return pid, nil
}

// Signal sends sig to node n's process group and returns the node's pid.
func (l *Lab) Signal(n Node, sig syscall.Signal) (int, error) {
	pid, err := l.PID(n)
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return pid, fmt.Errorf("signal %v to %s (process group %d): %w", sig, n, pid, err)
	}
	return pid, nil
}

// Kill SIGKILLs node n's process group and waits until the node is gone
// (StartNode restarts it). It returns the pid killed.
func (l *Lab) Kill(n Node) (int, error) {
	pid, err := l.Signal(n, syscall.SIGKILL)
	if err != nil {
		return pid, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.waitGone(n, pid, 10*time.Second) {
		return pid, fmt.Errorf("%s: pid %d still alive 10s after SIGKILL", n, pid)
	}
	return pid, nil
}

// Freeze SIGSTOPs node n: its process stays, answering nothing.
func (l *Lab) Freeze(n Node) (int, error) { return l.Signal(n, syscall.SIGSTOP) }

// Thaw SIGCONTs node n after Freeze.
func (l *Lab) Thaw(n Node) (int, error) { return l.Signal(n, syscall.SIGCONT) }

// Status writes each node's state and the remote connection to w; it
// returns true when every node answers.
func (l *Lab) Status(ctx context.Context, w io.Writer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refresh()
	up := 0
	for _, n := range l.cfg.AllMembers() {
		pid, st := l.alive(n)
		url := l.cfg.URL(n)
		if pid == 0 {
			fmt.Fprintf(w, "%-10s DOWN  url=%s\n", n, url)
			continue
		}
		a, err := l.call(ctx, http.MethodGet, url+"/_cluster/health", nil, 5*time.Second)
		if err == nil && a.ok() {
			health, herr := parseHealthStatus(a.Body)
			if herr != nil {
				health = "?"
			}
			fmt.Fprintf(w, "%-10s UP    pid=%d url=%s health=%s\n", n, pid, url, health)
			up++
			continue
		}
		fmt.Fprintf(w, "%-10s HUNG  pid=%d state=%c url=%s (process alive, HTTP not answering)\n", n, pid, st, url)
	}
	all := len(l.cfg.AllMembers())
	if up == all {
		if ok, err := l.RemoteConnected(ctx); err == nil && ok {
			fmt.Fprintf(w, "remote   %s connected\n", l.cfg.Alias)
		} else {
			fmt.Fprintf(w, "remote   %s NOT connected\n", l.cfg.Alias)
		}
	}
	if l.st.Nodes == nil {
		fmt.Fprintf(w, "no lab in %s\n", l.cfg.Dir)
	} else {
		fmt.Fprintf(w, "--- %s\n", l.cfg.Dir)
		for _, s := range l.env().Lines() {
			fmt.Fprintln(w, s)
		}
	}
	return up == all
}

// knownMembers are the nodes of the configured clusters and any other the
// state records (a lab brought up with more nodes), each with its state.
func (l *Lab) knownMembers() []Node {
	seen := map[Node]bool{}
	var out []Node
	for _, n := range l.cfg.AllMembers() {
		seen[n] = true
		out = append(out, n)
	}
	for n := range l.st.Nodes {
		if !seen[n] {
			out = append(out, n)
		}
	}
	for _, n := range out {
		l.st.node(n)
	}
	return out
}

// HasCCRPlugin is whether a plugin zip is available without asking Maven
// (after Fetch, the Maven download is in the cache).
func (c Config) HasCCRPlugin() (bool, error) {
	p, _, err := c.LocatePlugin()
	return p != "", err
}
