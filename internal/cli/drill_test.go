package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/journal"
	"github.com/drwatch/drwatch/internal/policy"
)

func runIn(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// drwatch drill release takes a pair back from a failover drill that
// cannot finish (here: the drill is no longer in the config): the pair is
// promoted for good, journaled, and no drill owns it any more. A pair no
// drill owns cannot be released.
func TestDrillRelease(t *testing.T) {
	cfg, _, _, stateDir := handPair(t)
	path := filepath.Join(t.TempDir(), "drwatch.yml")
	if err := os.WriteFile(path, []byte("state_dir: "+stateDir+"\npairs:\n  - name: orders\n    leader: {url: "+cfg.Pairs[0].Leader.URL+"}\n    follower: {url: "+cfg.Pairs[0].Follower.URL+", leader_alias: leader}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runIn("drill", "release", "--config", path, "--pair", "orders"); code != ExitFailure || !strings.Contains(errOut, "no failover drill owns the pair") {
		t.Fatalf("release of a pair no drill owns: %d %s", code, errOut)
	}
	now := time.Now()
	st, err := policy.DrillStart(policy.Initial(now), "gone/20260301T040000.000Z-abcd", "drill gone", now)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Save(&journal.Record{Pair: "orders", State: policy.PromotionSucceeded(st.State, "1 index writable", now).State}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if code, _, errOut := runIn("promote", "--config", path, "--pair", "orders", "--yes"); code != ExitFailure || !strings.Contains(errOut, "release it from the drill") {
		t.Fatalf("promote of a drill's pair: %d %s", code, errOut)
	}
	code, out, errOut := runIn("drill", "release", "--config", path, "--pair", "orders", "--reason", "drill removed")
	if code != ExitOK || !strings.Contains(out, "pair orders: promoted") || !strings.Contains(out, "released from failover drill gone/") {
		t.Fatalf("release: %d %s %s", code, out, errOut)
	}
	j, err = journal.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rec, err := j.Load("orders")
	if err != nil || rec.State.Drill != "" || rec.State.Phase != policy.Promoted {
		t.Fatalf("journaled: %v %+v", err, rec)
	}
}
