package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is an answer the real lab sent (internal/testutil/fakeos/testdata/lab).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testutil", "fakeos", "testdata", "lab", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRemoteConnected(t *testing.T) {
	for _, tc := range []struct {
		file  string
		alias string
		want  bool
	}{
		{"remote_info_sniff_connected.json", "leader", true},
		{"remote_info_sniff_disconnected.json", "leader", false},
		{"remote_info_sniff_connected.json", "other", false},
	} {
		got, err := parseRemoteConnected(fixture(t, tc.file), tc.alias)
		if err != nil || got != tc.want {
			t.Errorf("%s %s: %v %v, want %v", tc.file, tc.alias, got, err, tc.want)
		}
	}
	if _, err := parseRemoteConnected([]byte(`{"leader":{"mode":"sniff"}}`), "leader"); err == nil {
		t.Error("no connected field: want an error")
	}
	if _, err := parseRemoteConnected([]byte(`"connected":true`), "leader"); err == nil {
		t.Error("not JSON: want an error")
	}
}

func TestFollowerStatsAndSeqNos(t *testing.T) {
	st, err := ParseFollowerStats(fixture(t, "follower_stats_running.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.NumSyncing != 3 || st.FailedReadRequests != 0 || len(st.IndexStats) != 3 {
		t.Errorf("running: %+v", st)
	}
	// caught up: the follower's checkpoints add up to the leader's primaries' max_seq_no
	lsum, err := PrimaryMaxSeqNoSum(fixture(t, "leader_seqnos_running.json"))
	if err != nil {
		t.Fatal(err)
	}
	if lsum <= 0 || lsum != st.FollowerCheckpointSum() {
		t.Errorf("leader max_seq_no sum %d, follower checkpoint sum %d: the running capture was caught up", lsum, st.FollowerCheckpointSum())
	}
	// paused: orders-2 is 7 behind on the leader
	lp, err := PrimaryMaxSeqNoSum(fixture(t, "leader_seqnos_paused.json"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := PrimaryMaxSeqNoSum(fixture(t, "follower_seqnos_paused.json"))
	if err != nil {
		t.Fatal(err)
	}
	if lp-fp != 7 {
		t.Errorf("paused: leader %d - follower %d = %d, want 7", lp, fp, lp-fp)
	}

	down, err := ParseFollowerStats(fixture(t, "follower_stats_leader_down.json"))
	if err != nil || down.FailedReadRequests <= 0 {
		t.Errorf("leader down: failed reads %d, %v", down.FailedReadRequests, err)
	}
	if _, err := ParseFollowerStats(fixture(t, "follower_stats_no_plugin.json")); err == nil {
		t.Error("the no-plugin answer parsed as follower_stats")
	}
	if _, err := PrimaryMaxSeqNoSum([]byte(`{"indices":{"a":{"shards":{"0":[{"routing":{"primary":true}}]}}}}`)); err == nil {
		t.Error("a primary without seq_no: want an error")
	}
	if s, err := PrimaryMaxSeqNoSum([]byte(`{"indices":{"a":{"shards":{"0":[{"routing":{"primary":false},"seq_no":{"max_seq_no":9}},{"routing":{"primary":true},"seq_no":{"max_seq_no":-1}}]}}}}`)); err != nil || s != -1 {
		t.Errorf("replicas must not count: %d %v", s, err)
	}
}

func TestParseErrorAndStatus(t *testing.T) {
	e := parseError(fixture(t, "stop_not_in_progress_error.json"))
	if e.Type != "illegal_argument_exception" || e.Reason != "No replication in progress for index:stopme" {
		t.Errorf("%+v", e)
	}
	if e := parseError(fixture(t, "follower_stats_no_plugin.json")); !strings.Contains(e.Reason, "no handler found") {
		t.Errorf("string error: %+v", e)
	}
	if e := parseError([]byte(`{"acknowledged":true}`)); e != (errorInfo{}) {
		t.Errorf("no error: %+v", e)
	}
	for file, want := range map[string]string{
		"status_syncing.json":         "SYNCING",
		"status_paused.json":          "PAUSED",
		"status_not_in_progress.json": "REPLICATION NOT IN PROGRESS",
	} {
		got, err := ParseReplicationStatus(fixture(t, file))
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", file, got, err, want)
		}
	}
	if !activeReplication("PAUSED") || activeReplication("REPLICATION NOT IN PROGRESS") || activeReplication("") {
		t.Error("activeReplication")
	}
	if h, err := parseHealthStatus(fixture(t, "cluster_health_green.json")); err != nil || h != "green" {
		t.Errorf("health %q %v", h, err)
	}
}

func TestBulkFailed(t *testing.T) {
	for body, want := range map[string]bool{
		`{"took":3,"errors":false,"items":[]}`: false,
		`{"took":3,"errors":true,"items":[]}`:  true,
		`{"took":3}`:                           true,
		`not json`:                             true,
	} {
		if got, _ := bulkFailed([]byte(body)); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

func TestSampleDocs(t *testing.T) {
	b, err := sampleDocs("orders-1", "orders")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 10 || !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("%d lines:\n%s", len(lines), b)
	}
	if id := lines[8]["index"].(map[string]any)["_id"]; id != "5" {
		t.Errorf("5th id %v", id)
	}
	if d := lines[9]; d["customer"] != "customer-5" || d["amount"] != 50.5 || d["index"] != "orders-1" {
		t.Errorf("5th doc %v", d)
	}
	logs, _ := sampleDocs("logs-1", "logs")
	if !bytes.Contains(logs, []byte(`"message":"sample log line 3"`)) {
		t.Errorf("logs docs:\n%s", logs)
	}
}

func TestRemoteSettings(t *testing.T) {
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	proxy := j(remoteSettings("leader", "127.0.0.1:4000", nil))
	if proxy != `{"persistent":{"cluster.remote.leader.mode":"proxy","cluster.remote.leader.proxy_address":"127.0.0.1:4000","cluster.remote.leader.seeds":null}}` {
		t.Errorf("proxy: %s", proxy)
	}
	sniff := j(remoteSettings("leader", "", []string{"127.0.0.1:19300"}))
	if sniff != `{"persistent":{"cluster.remote.leader.mode":null,"cluster.remote.leader.proxy_address":null,"cluster.remote.leader.seeds":["127.0.0.1:19300"]}}` {
		t.Errorf("sniff: %s", sniff)
	}
	if s := j(seedsOnly("dc1", []string{"a:1", "b:1"})); s != `{"persistent":{"cluster.remote.dc1.seeds":["a:1","b:1"]}}` {
		t.Errorf("seeds: %s", s)
	}
}

func TestParseVersion(t *testing.T) {
	if v, err := ParseVersion([]byte(`{"name":"leader","version":{"distribution":"opensearch","number":"2.19.3"}}`)); err != nil || v != "2.19.3" {
		t.Errorf("%q %v", v, err)
	}
	if _, err := ParseVersion([]byte(`{"name":"leader"}`)); err == nil {
		t.Error("no version: want an error")
	}
}

// Seen on the lab after the follower's remote alias was removed and set
// again: creating the autofollow rule once more answers HTTP 500 with the
// rule's task already there as the cause - the rule exists.
func TestAutofollowRuleThatExistsIsNoError(t *testing.T) {
	body := []byte(`{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"task with id {autofollow:leader:logs} already exist"}],"type":"exception","reason":"Exisiting autofollow replication rule cannot be recreated/updated","caused_by":{"type":"resource_already_exists_exception","reason":"task with id {autofollow:leader:logs} already exist"}},"status":500}`)
	if e := parseError(body); !e.exists() {
		t.Fatalf("%+v: not read as existing", e)
	}
	if e := parseError([]byte(`{"error":{"type":"exception","reason":"boom"},"status":500}`)); e.exists() {
		t.Fatal("any 500 read as existing")
	}
}
