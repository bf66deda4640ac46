package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is $LAB_DIR/lab.json: what a later process (down, status,
// start-node) needs to know about the running lab. Only this package reads
// and writes it.
type state struct {
	Version           string              `json:"opensearch_version"`
	LeaderHTTPPort    int                 `json:"leader_http_port"`
	LeaderTransport   int                 `json:"leader_transport_port"`
	FollowerHTTPPort  int                 `json:"follower_http_port"`
	FollowerTransport int                 `json:"follower_transport_port"`
	Alias             string              `json:"leader_alias"`
	ProxyAddress      string              `json:"leader_proxy_address,omitempty"`
	Security          string              `json:"security,omitempty"` // "1": a secured lab
	NodeCount         int                 `json:"nodes_per_cluster,omitempty"`
	Nodes             map[Node]*nodeState `json:"nodes"`
	SetupDone         *time.Time          `json:"setup_done,omitempty"`
}

// nodeState is one node: installed (with or without the plugin) and the
// process group it runs in (its leader's pid, and that process's start time
// in clock ticks since boot, so a reused pid is never taken for the node).
type nodeState struct {
	Installed bool   `json:"installed"`
	CCR       bool   `json:"ccr"`
	PID       int    `json:"pid,omitempty"`
	StartTick uint64 `json:"start_ticks,omitempty"`
}

const (
	stateFile  = "lab.json"
	markerFile = ".drwatch-lab" // holds the version; marks LAB_DIR as a lab dir for Down
)

func (l *Lab) statePath() string { return filepath.Join(l.cfg.Dir, stateFile) }

// readState reads lab.json; a missing file is the zero state and no error.
func readState(path string) (state, bool, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the lab's own state file
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return state{}, false, fmt.Errorf("%s: %w (run down, or remove the directory)", path, err)
	}
	return s, true, nil
}

// writeState replaces lab.json atomically.
func writeState(path string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp.%d", path, os.Getpid())
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil { //nolint:gosec // readable by whoever runs status
		return err
	}
	return os.Rename(tmp, path)
}

func (s *state) node(n Node) *nodeState {
	if s.Nodes == nil {
		s.Nodes = map[Node]*nodeState{}
	}
	if s.Nodes[n] == nil {
		s.Nodes[n] = &nodeState{}
	}
	return s.Nodes[n]
}

// merge takes the running lab's values into c. A value set explicitly in
// the environment that differs from the lab's is an error: the nodes'
// opensearch.yml was written with the lab's.
func (c *Config) merge(s state) error {
	type saved struct {
		key  string
		cur  string
		have string
		set  func()
		zero bool // "0" is a value, not "unset"
	}
	itoa := strconv.Itoa
	keys := []saved{
		{keyVersion, c.Version, s.Version, func() { c.Version = s.Version }, false},
		{keyLeaderHTTPPort, itoa(c.LeaderHTTPPort), itoa(s.LeaderHTTPPort), func() { c.LeaderHTTPPort = s.LeaderHTTPPort }, false},
		{keyLeaderTransport, itoa(c.LeaderTransport), itoa(s.LeaderTransport), func() { c.LeaderTransport = s.LeaderTransport }, false},
		{keyFollowerHTTPPort, itoa(c.FollowerHTTPPort), itoa(s.FollowerHTTPPort), func() { c.FollowerHTTPPort = s.FollowerHTTPPort }, false},
		{keyFollowerTransport, itoa(c.FollowerTransport), itoa(s.FollowerTransport), func() { c.FollowerTransport = s.FollowerTransport }, false},
		{keyAlias, c.Alias, s.Alias, func() { c.Alias = s.Alias }, false},
		{keySecurity, boolStr(c.Security), s.securityStr(), func() { c.Security = s.Security == "1" }, true},
		{keyNodes, itoa(c.NodeCount), itoa(max(s.NodeCount, 1)), func() { c.NodeCount = max(s.NodeCount, 1) }, false},
	}
	for _, k := range keys {
		if k.have == "" || (k.have == "0" && !k.zero) || k.have == k.cur {
			continue
		}
		if c.explicit[k.key] {
			return fmt.Errorf("%s=%s differs from the running lab in %s (%s=%s); run down first", k.key, k.cur, c.Dir, k.key, k.have)
		}
		k.set()
	}
	return nil
}

// record puts c's saved keys into s.
func (c Config) record(s *state) {
	s.Version, s.Alias = c.Version, c.Alias
	s.LeaderHTTPPort, s.LeaderTransport = c.LeaderHTTPPort, c.LeaderTransport
	s.FollowerHTTPPort, s.FollowerTransport = c.FollowerHTTPPort, c.FollowerTransport
	s.Security = boolStr(c.Security)
	s.NodeCount = c.NodeCount
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// securityStr is the saved security flag; "" for a lab saved before the
// flag existed (then: not secured).
func (s state) securityStr() string {
	if s.Security == "" && s.Version != "" {
		return "0"
	}
	return s.Security
}

// lockFile serialises up, down, start-node and stop-node across processes
// (flock on $LAB_DIR.lock). Files opened by Go are close-on-exec, so the
// lock never leaks into the nodes.
type lockFile struct{ f *os.File }

func lock(path string, within time.Duration) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666) //nolint:gosec // a lock file beside LAB_DIR
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	deadline := time.Now().Add(within)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &lockFile{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("could not lock %s (another lab command running?): %w", path, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (k *lockFile) unlock() {
	_ = syscall.Flock(int(k.f.Fd()), syscall.LOCK_UN)
	k.f.Close()
}

// procStat reads a process's state letter and start time (clock ticks since
// boot) from /proc/<pid>/stat.
func procStat(pid int) (byte, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads fields 3 (state) and 22 (starttime) of a
// /proc/<pid>/stat line; the command name (field 2) may hold spaces and
// parentheses, so the fields are counted from its last ')'.
func parseProcStat(line string) (byte, uint64, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bad /proc stat line %q", line)
	}
	f := strings.Fields(line[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("bad /proc stat line %q", line)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad start time in /proc stat line %q", line)
	}
	return f[0][0], start, nil
}
