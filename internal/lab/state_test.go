package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lab.json")
	if _, ok, err := readState(p); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
	now := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	var s state
	s.Alias, s.LeaderHTTPPort, s.SetupDone = "dc1", 29200, &now
	s.node(Leader).PID, s.node(Leader).StartTick, s.node(Leader).CCR = 42, 1234, true
	if err := writeState(p, s); err != nil {
		t.Fatal(err)
	}
	got, ok, err := readState(p)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got.Alias != "dc1" || got.LeaderHTTPPort != 29200 || !got.SetupDone.Equal(now) || *got.node(Leader) != (nodeState{CCR: true, PID: 42, StartTick: 1234}) {
		t.Errorf("got %+v", got)
	}
	if err := os.WriteFile(p, []byte("LEADER_PID=42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readState(p); err == nil || !strings.Contains(err.Error(), "run down") {
		t.Errorf("a damaged state file: %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 50 0 987654 100000 200 18446744073709551615\n"
	st, start, err := parseProcStat(line)
	if err != nil || st != 'S' || start != 987654 {
		t.Errorf("%c %d %v", st, start, err)
	}
	if _, _, err := parseProcStat("4242 (java) S 1 2"); err == nil {
		t.Error("a short line: want an error")
	}
	st, start, err = procStat(os.Getpid())
	if err != nil || start == 0 || (st != 'R' && st != 'S') {
		t.Errorf("own process: %c %d %v", st, start, err)
	}
}

func TestTailLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "node.log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := tailLines(p, 3)
	if err != nil || len(got) != 3 || got[0] != strings.Repeat("x", 97) || got[2] != strings.Repeat("x", 99) {
		t.Errorf("%d lines, %v", len(got), err)
	}
}
