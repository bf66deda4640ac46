package lab

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeNodeLab is a lab whose leader's bin/opensearch is a shell script:
// the process handling (process groups, stop, kill, exits) runs for real.
func fakeNodeLab(t *testing.T, script string) (*Lab, *bytes.Buffer) {
	t.Helper()
	ports := make([]string, 4)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		defer ln.Close() // held until all four are chosen: four distinct ports
	}
	cfg, err := FromEnv(t.TempDir(), envOf(map[string]string{
		"LAB_DIR": filepath.Join(t.TempDir(), "lab"), "LAB_STOP_TIMEOUT": "1", "LAB_TIMEOUT": "5",
		"LEADER_HTTP_PORT": ports[0], "LEADER_TRANSPORT_PORT": ports[1], "FOLLOWER_HTTP_PORT": ports[2], "FOLLOWER_TRANSPORT_PORT": ports[3],
	}))
	if err != nil {
		t.Fatal(err)
	}
	home := cfg.Home(Leader)
	for _, d := range []string{"bin", "logs"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, "bin", "opensearch"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	l, err := Open(cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid := l.st.node(Leader).PID; pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	return l, &log
}

// childPID waits for the script to write the pid of its child.
func childPID(t *testing.T, l *Lab) int {
	t.Helper()
	p := filepath.Join(l.cfg.Home(Leader), "child.pid")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the fake node never wrote child.pid")
	return 0
}

func processGone(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, _, err := procStat(pid); err != nil || st == 'Z' {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

const treeScript = "sleep 300 &\necho $! > \"$HOME/child.pid\"\nwait\n"

func TestStopKillsTheProcessGroup(t *testing.T) {
	l, log := fakeNodeLab(t, treeScript)
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	child := childPID(t, l)
	pid, _ := l.alive(Leader)
	if pid == 0 {
		t.Fatal("the node is not alive after launch")
	}
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Fatalf("the node leads no process group of its own: pgid %d (pid %d) %v", pgid, pid, err)
	}
	if pgid, _ := syscall.Getpgid(child); pgid != pid {
		t.Fatalf("the child is in group %d, not %d", pgid, pid)
	}
	saved, _, err := readState(l.statePath())
	if err != nil || saved.node(Leader).PID != pid || saved.node(Leader).StartTick == 0 {
		t.Fatalf("lab.json does not record the node: %+v %v", saved.node(Leader), err)
	}
	// a second launch finds it running
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil || !strings.Contains(log.String(), "already running") {
		t.Fatalf("second launch: %v\n%s", err, log)
	}
	if err := l.stop(Leader); err != nil {
		t.Fatal(err)
	}
	if p, _ := l.alive(Leader); p != 0 {
		t.Error("the node is alive after stop")
	}
	if !processGone(child) {
		t.Error("the node's child survived the stop: the process group was not signalled")
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	l, log := fakeNodeLab(t, "trap '' TERM\n"+treeScript)
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	child := childPID(t, l)
	start := time.Now()
	if err := l.stop(Leader); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("stopped after %s although SIGTERM is ignored: want SIGKILL after LAB_STOP_TIMEOUT (1s)", took)
	}
	if !strings.Contains(log.String(), "sending SIGKILL") {
		t.Errorf("log:\n%s", log)
	}
	if !processGone(child) {
		t.Error("the child survived SIGKILL")
	}
}

func TestKillFreezeThawAndRestart(t *testing.T) {
	l, _ := fakeNodeLab(t, treeScript)
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	child := childPID(t, l)
	pid, err := l.Freeze(Leader)
	if err != nil {
		t.Fatal(err)
	}
	waitState := func(want byte) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, _, _ := procStat(child)
			if st == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("child state %c, want %c", st, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitState('T')
	if _, err := l.Thaw(Leader); err != nil {
		t.Fatal(err)
	}
	waitState('S')
	killed, err := l.Kill(Leader)
	if err != nil || killed != pid {
		t.Fatalf("Kill: %d %v, want %d", killed, err, pid)
	}
	if p, _ := l.alive(Leader); p != 0 {
		t.Fatal("alive after Kill")
	}
	if !processGone(child) {
		t.Error("the child survived Kill")
	}
	if _, err := l.PID(Leader); err == nil {
		t.Error("PID of a killed node: want an error")
	}
	if err := os.Remove(filepath.Join(l.cfg.Home(Leader), "child.pid")); err != nil {
		t.Fatal(err)
	}
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	if p, _ := l.alive(Leader); p == 0 || p == pid {
		t.Errorf("restart: pid %d (killed %d)", p, pid)
	}
}

func TestFailedStartPrintsTheLog(t *testing.T) {
	l, log := fakeNodeLab(t, "echo 'java.lang.IllegalArgumentException: unknown setting [no.such.setting]' >&2\nexit 3\n")
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	err := l.waitHealthy(context.Background(), Leader)
	if err == nil || !strings.Contains(err.Error(), "exited during startup") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(log.String(), "unknown setting [no.such.setting]") || !strings.Contains(log.String(), "launcher.log") {
		t.Errorf("the end of the node's output was not printed:\n%s", log)
	}
}

func TestLaunchRefusesABusyPort(t *testing.T) {
	l, _ := fakeNodeLab(t, treeScript)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(l.cfg.LeaderHTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = l.launch(Leader, "/nonexistent-jdk", nil)
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("err = %v", err)
	}
}

func TestStopKillsWhatOutlivedTheNode(t *testing.T) {
	// the node's process exits, a child of it stays in its process group
	l, log := fakeNodeLab(t, "sleep 300 &\necho $! > \"$HOME/child.pid\"\nexit 0\n")
	if err := l.launch(Leader, "/nonexistent-jdk", nil); err != nil {
		t.Fatal(err)
	}
	child := childPID(t, l)
	pid := l.st.node(Leader).PID
	<-l.procs[Leader].done
	if !orphanGroup(pid) {
		t.Fatal("the group with the node's child is not seen as outliving the node")
	}
	if err := l.stop(Leader); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "not running") || !processGone(child) {
		t.Errorf("the child of a node that exited survived stop:\n%s", log)
	}
	if orphanGroup(os.Getpid()) {
		t.Error("a live process taken for an orphaned group")
	}
}
