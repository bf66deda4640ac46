package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
)

// drwatch history prints each pair's journaled decisions: text with the
// events in their contract words, and --json the records as journaled.
func TestHistory(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	j, err := journal.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	rec := &journal.Record{Pair: "orders", State: policy.State{Phase: policy.Suspect, Since: t0, Reasons: []string{"probe failed"}},
		History: []journal.Transition{{At: t0, From: policy.Healthy, To: policy.Suspect, Events: []policy.Event{policy.EvLeaderSuspect}, Reasons: []string{"probe failed"}}}}
	if err := j.Save(rec); err != nil {
		t.Fatal(err)
	}
	j.Close()
	cfgPath := filepath.Join(dir, "drwatch.yml")
	if err := os.WriteFile(cfgPath, []byte("state_dir: "+stateDir+"\npairs:\n  - name: orders\n    leader: {url: http://127.0.0.1:1}\n    follower: {url: http://127.0.0.1:2, leader_alias: leader}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if rc := historyCmd([]string{"--config", cfgPath}, &out, &errOut); rc != ExitOK {
		t.Fatalf("history = %d: %s", rc, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "pair orders: suspect since 2026-03-02T03:00:00Z") || !strings.Contains(s, "healthy -> suspect [leader_suspect]") || !strings.Contains(s, "probe failed") {
		t.Fatalf("history text:\n%s", s)
	}
	out.Reset()
	if rc := historyCmd([]string{"--config", cfgPath, "--json"}, &out, &errOut); rc != ExitOK {
		t.Fatalf("history --json = %d: %s", rc, errOut.String())
	}
	var got []struct {
		Pair    string `json:"pair"`
		History []struct {
			Events []string `json:"events"`
		} `json:"history"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0].Pair != "orders" || len(got[0].History) != 1 || len(got[0].History[0].Events) != 1 || got[0].History[0].Events[0] != "leader_suspect" {
		t.Fatalf("history --json = %v (%v):\n%s", got, err, out.String())
	}
}
