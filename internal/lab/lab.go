package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lab is one lab on this machine (one LAB_DIR and its ports).
type Lab struct {
	cfg Config
	log io.Writer

	mu    sync.Mutex     // the fields below, and one operation at a time in this process
	st    state          // lab.json as last read or written
	procs map[Node]*proc // nodes this process started
	sec   *labHTTP       // the secured lab's client, once built
}

// proc is a node process this process started; done closes when it exited.
type proc struct {
	pid  int
	done chan struct{}
	err  error // set before done closes
}

// Env is what the users of a running lab need to know.
type Env struct {
	LeaderURL, FollowerURL             string
	LeaderTransport, FollowerTransport string // host:port
	// LeaderURLs and FollowerURLs are every node's (LAB_NODES>1), the
	// first one's first; NodeCount the nodes per cluster.
	LeaderURLs, FollowerURLs []string
	NodeCount                int
	Alias                    string // the follower's remote cluster alias for the leader
	CCR                      bool   // both nodes have the replication plugin
	Dir                      string
	Version                  string
	LeaderPID, FollowerPID   int // 0: not running

	// The secured lab (LAB_SECURITY=1): URLs are https, the CA signs
	// every node's certificate, and each cluster has an admin and a
	// least-privilege drwatch user; LeaderRole and FollowerRole are the
	// roles replication is started with (use_roles).
	Security                         bool
	CAFile                           string
	AdminUser, AdminPasswordFile     string
	DrwatchUser, DrwatchPasswordFile string
	LeaderRole, FollowerRole         string
}

// Open returns the lab cfg describes; log receives its progress (os.Stderr
// when nil). A running lab's saved ports, alias and version fill in cfg
// (see FromEnv); a conflicting explicit value is an error.
func Open(cfg Config, log io.Writer) (*Lab, error) {
	if log == nil {
		log = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Lab{cfg: cfg, log: log, procs: map[Node]*proc{}}
	st, ok, err := readState(l.statePath())
	if err != nil {
		return nil, err
	}
	if ok {
		if err := l.cfg.merge(st); err != nil {
			return nil, err
		}
		l.st = st
	}
	return l, nil
}

// Config is the lab's configuration (after merging the running lab's).
func (l *Lab) Config() Config { return l.cfg }

func (l *Lab) logf(format string, args ...any) {
	fmt.Fprintf(l.log, "[lab %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (l *Lab) banner(lines ...string) {
	bar := strings.Repeat("!", 76)
	fmt.Fprintf(l.log, "\n%s\n", bar)
	for _, s := range lines {
		fmt.Fprintf(l.log, "!!! %s\n", s)
	}
	fmt.Fprintf(l.log, "%s\n\n", bar)
}

// Env describes the lab as it is now.
func (l *Lab) Env() Env {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.env()
}

func (l *Lab) env() Env {
	c := l.cfg
	e := Env{
		LeaderURL: c.URL(Leader), FollowerURL: c.URL(Follower),
		LeaderTransport:   fmt.Sprintf("127.0.0.1:%d", c.LeaderTransport),
		FollowerTransport: fmt.Sprintf("127.0.0.1:%d", c.FollowerTransport),
		Alias:             c.Alias, Dir: c.Dir, Version: c.Version,
		CCR: l.st.node(Leader).CCR && l.st.node(Follower).CCR,
	}
	e.NodeCount = c.NodeCount
	for _, m := range c.Members(Leader) {
		e.LeaderURLs = append(e.LeaderURLs, c.URL(m))
	}
	for _, m := range c.Members(Follower) {
		e.FollowerURLs = append(e.FollowerURLs, c.URL(m))
	}
	if c.Security {
		e.Security, e.CAFile = true, c.CAFile()
		e.AdminUser, e.AdminPasswordFile = AdminUser, c.PasswordFile(AdminUser)
		e.DrwatchUser, e.DrwatchPasswordFile = DrwatchUser, c.PasswordFile(DrwatchUser)
		e.LeaderRole, e.FollowerRole = LeaderRole, FollowerRole
	}
	e.LeaderPID, _ = l.alive(Leader)
	e.FollowerPID, _ = l.alive(Follower)
	return e
}

// Lines is the Env as KEY=value lines (for people; programs use the Env).
func (e Env) Lines() []string {
	ccr := 0
	if e.CCR {
		ccr = 1
	}
	lines := []string{
		"LEADER_URL=" + e.LeaderURL, "FOLLOWER_URL=" + e.FollowerURL,
		"LEADER_TRANSPORT=" + e.LeaderTransport, "FOLLOWER_TRANSPORT=" + e.FollowerTransport,
		fmt.Sprintf("LEADER_PID=%d", e.LeaderPID), fmt.Sprintf("FOLLOWER_PID=%d", e.FollowerPID),
		"LEADER_ALIAS=" + e.Alias, fmt.Sprintf("CCR=%d", ccr), "LAB_DIR=" + e.Dir, "OPENSEARCH_VERSION=" + e.Version,
	}
	if e.NodeCount > 1 {
		lines = append(lines, fmt.Sprintf("LAB_NODES=%d", e.NodeCount),
			"LEADER_URLS="+strings.Join(e.LeaderURLs, ","), "FOLLOWER_URLS="+strings.Join(e.FollowerURLs, ","))
	}
	if e.Security {
		lines = append(lines, "LAB_SECURITY=1", "LAB_CA_FILE="+e.CAFile,
			"LAB_ADMIN_USER="+e.AdminUser, "LAB_ADMIN_PASSWORD_FILE="+e.AdminPasswordFile,
			"LAB_DRWATCH_USER="+e.DrwatchUser, "LAB_DRWATCH_PASSWORD_FILE="+e.DrwatchPasswordFile,
			"LAB_LEADER_ROLE="+e.LeaderRole, "LAB_FOLLOWER_ROLE="+e.FollowerRole)
	}
	return lines
}

// lockAll takes the in-process and the cross-process lock.
func (l *Lab) lockAll() (func(), error) {
	l.mu.Lock()
	k, err := lock(l.cfg.Dir+".lock", 300*time.Second)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	// another process may have changed the lab while we waited
	if st, ok, err := readState(l.statePath()); err == nil && ok {
		l.st = st
	} else if err == nil {
		l.st = state{}
	}
	return func() { k.unlock(); l.mu.Unlock() }, nil
}

func (l *Lab) save() error {
	if !exists(l.cfg.Dir) {
		return nil
	}
	return writeState(l.statePath(), l.st)
}

// ---- processes ----

// alive returns node n's pid and state letter while its process exists
// (and is the process recorded for it: same pid, same start time).
//
// The state letter cannot tell: the JVM's first thread may exit (state Z)
// while the others still hold the node's ports, so a process counts as gone
// only once it no longer exists. The process that started a node reaps it
// (proc.done); one started by an exited process is reaped by init.
func (l *Lab) alive(n Node) (int, byte) {
	ns := l.st.node(n)
	if ns.PID <= 0 {
		return 0, 0
	}
	if p := l.procs[n]; p != nil && p.pid == ns.PID {
		select {
		case <-p.done:
			return 0, 0
		default:
		}
	}
	if syscall.Kill(ns.PID, 0) != nil {
		return 0, 0
	}
	st, start, err := procStat(ns.PID)
	if err != nil {
		return 0, 0
	}
	if start != ns.StartTick {
		return 0, 0 // the pid was reused
	}
	return ns.PID, st
}

// groupAlive is whether any process of the group led by pid is left.
func groupAlive(pid int) bool {
	return pid > 0 && syscall.Kill(-pid, 0) == nil
}

// orphanGroup is whether the group a node's process led outlives it: the
// process is gone but members of its group are left. Those are the node's
// (the kernel reuses no pid while it names a live process group); a pid
// that names a live process is never taken for an orphaned group.
func orphanGroup(pid int) bool {
	return pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) && groupAlive(pid)
}

func portInUse(port int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// launch starts node n (not waiting for it): bin/opensearch in a process
// group of its own, as the node user when we are root, its output in
// logs/launcher.log. The process outlives this one unless stopped.
func (l *Lab) launch(n Node, javaHome string, ras *runAs) error {
	home := l.cfg.Home(n)
	bin := filepath.Join(home, "bin", "opensearch")
	if !exists(bin) {
		return fmt.Errorf("%s is not installed in %s; run up first", n, home)
	}
	if pid, st := l.alive(n); pid > 0 {
		if st == 'T' || st == 't' {
			l.logf("%s: pid %d is stopped (SIGSTOP); sending SIGCONT", n, pid)
		}
		_ = syscall.Kill(-pid, syscall.SIGCONT)
		l.logf("%s: already running (pid %d)", n, pid)
		return nil
	}
	if old := l.st.node(n).PID; orphanGroup(old) {
		_ = syscall.Kill(-old, syscall.SIGKILL)
	}
	for _, port := range []int{l.cfg.HTTPPort(n), l.cfg.TransportPort(n)} {
		if portInUse(port) {
			return fmt.Errorf("%s: port %d on 127.0.0.1 is already in use by another process", n, port)
		}
	}
	logPath := filepath.Join(home, "logs", "launcher.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) //nolint:gosec // the node's log dir
	if err != nil {
		return err
	}
	defer out.Close()
	if ras != nil {
		_ = os.Chown(logPath, int(ras.uid), int(ras.gid))
	}
	l.logf("%s: starting (http %d, transport %d)", n, l.cfg.HTTPPort(n), l.cfg.TransportPort(n))
	// -q: no console logging; the node logs to logs/drwatch-<node>.log.
	cmd := exec.Command(bin, "-q") //nolint:gosec,noctx // the lab's own install; it must outlive any context
	cmd.Dir, cmd.Stdout, cmd.Stderr = home, out, out
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"OPENSEARCH_JAVA_HOME=" + javaHome,
		"OPENSEARCH_JAVA_OPTS=-Xms" + l.cfg.Heap + " -Xmx" + l.cfg.Heap,
		"OPENSEARCH_PATH_CONF=" + filepath.Join(home, "config"),
		"OPENSEARCH_TMPDIR=" + filepath.Join(home, "tmp"),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: ras.credential()}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start %s: %w", n, bin, err)
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{})}
	// read before anything reaps it: until then even an exited child stays
	_, start, err := procStat(p.pid)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	l.procs[n] = p
	if err != nil {
		return fmt.Errorf("%s: pid %d vanished right after its start: %w", n, p.pid, err)
	}
	ns := l.st.node(n)
	ns.PID, ns.StartTick = p.pid, start
	return l.save()
}

// waitHealthy waits (in parallel) until every node answers health yellow,
// or fails with the end of its log when it exits or times out.
func (l *Lab) waitHealthy(ctx context.Context, nodes ...Node) error {
	start := time.Now()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		var exited <-chan struct{}
		pid := l.st.node(n).PID
		p := l.procs[n]
		if p != nil {
			exited = p.done
		}
		wg.Go(func() {
			for {
				if l.healthy(ctx, n) {
					l.logf("%s: up after %s (pid %d)", n, time.Since(start).Round(time.Second), pid)
					return
				}
				select {
				case <-exited:
					l.PrintNodeLogs(n)
					errs[i] = fmt.Errorf("%s: the OpenSearch process exited during startup (%w)", n, p.err)
					return
				default:
				}
				if exited == nil && syscall.Kill(pid, 0) != nil {
					l.PrintNodeLogs(n)
					errs[i] = fmt.Errorf("%s: the OpenSearch process exited during startup", n)
					return
				}
				if time.Since(start) >= l.cfg.Timeout {
					l.PrintNodeLogs(n)
					errs[i] = fmt.Errorf("%s: timed out after %s waiting for health yellow (LAB_TIMEOUT to raise)", n, l.cfg.Timeout)
					return
				}
				if err := sleep(ctx, time.Second); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stop stops node n's process group: SIGCONT (it may be frozen), SIGTERM,
// SIGKILL after StopTimeout. The caller saves the state.
func (l *Lab) stop(n Node) error {
	ns := l.st.node(n)
	pid, _ := l.alive(n)
	if pid == 0 {
		if orphanGroup(ns.PID) {
			_ = syscall.Kill(-ns.PID, syscall.SIGKILL) // leftovers of a dead node
		}
		l.logf("%s: not running", n)
		ns.PID, ns.StartTick = 0, 0
		return nil
	}
	l.logf("%s: stopping process group %d", n, pid)
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if !l.waitGone(n, pid, l.cfg.StopTimeout) {
		l.logf("%s: still alive after %s, sending SIGKILL to process group %d", n, l.cfg.StopTimeout, pid)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if !l.waitGone(n, pid, 10*time.Second) {
			return fmt.Errorf("%s: could not kill process group %d", n, pid)
		}
	}
	ns.PID, ns.StartTick = 0, 0
	l.logf("%s: stopped", n)
	return nil
}

// waitGone waits until the node's process is gone, then kills what is
// left of its group.
func (l *Lab) waitGone(n Node, pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if p, _ := l.alive(n); p == 0 {
			if orphanGroup(pid) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PrintNodeLogs prints the end of a node's logs: after a failed start, or
// before a failed test run takes the lab down.
func (l *Lab) PrintNodeLogs(n Node) {
	logs := filepath.Join(l.cfg.Home(n), "logs")
	main := filepath.Join(logs, "drwatch-"+string(n.Cluster())+".log")
	files := []string{main}
	if !nonEmpty(main) {
		files, _ = filepath.Glob(filepath.Join(logs, "*.log"))
	}
	for _, f := range files {
		if filepath.Base(f) == "launcher.log" || !nonEmpty(f) {
			continue
		}
		l.logf("%s: last 60 lines of %s:", n, f)
		l.printTail(f, 60)
	}
	if f := filepath.Join(logs, "launcher.log"); nonEmpty(f) {
		l.logf("%s: last 20 lines of %s (bin/opensearch output):", n, f)
		l.printTail(f, 20)
	}
}

func (l *Lab) printTail(path string, n int) {
	lines, err := tailLines(path, n)
	if err != nil {
		l.logf("cannot read %s: %v", path, err)
		return
	}
	for _, s := range lines {
		fmt.Fprintln(l.log, s)
	}
}

// tailLines returns the last n lines of a file.
func tailLines(path string, n int) ([]string, error) {
	f, err := os.Open(path) //nolint:gosec // a lab log
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	return ring, sc.Err()
}
