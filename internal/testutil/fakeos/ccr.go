package fakeos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// CCRFollower is a stateful fake follower that answers what the real
// plugin answered in the lab (testdata/lab/: stop_ack.json,
// stop_not_in_progress_error.json, delete_autofollow_unknown_error.json,
// cluster_state_follower_block.json, follower_settings.json): follower
// indices carry the leader-index setting ("leader:<index>") and the
// replication block 1000 until _stop; a second _stop answers 400 "No
// replication in progress"; deleting an unknown autofollow rule answers
// 500; follower_stats lists the follower indices as syncing with lag 0.
type CCRFollower struct {
	*Cluster
	mu        sync.Mutex
	followers map[string]string // follower index -> leader index
	plain     map[string]bool   // indices that are (now) normal indices
	rules     map[string]string // autofollow rule -> pattern
	Stops     map[string]int    // _stop calls per index
	// settingsStatus, when set, is what the follower-index settings call
	// answers instead (an HTTP error status).
	settingsStatus int
}

// FailSettings makes the follower-index settings call answer status (0:
// answer normally again).
func (f *CCRFollower) FailSettings(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settingsStatus = status
}

// NewCCRFollower starts a follower replicating indices (same names on the
// leader), with one autofollow rule "logs" and the remote alias "leader"
// connected.
func NewCCRFollower(t testing.TB, indices ...string) *CCRFollower {
	f := &CCRFollower{Cluster: New(t), followers: map[string]string{}, plain: map[string]bool{},
		rules: map[string]string{"logs": "logs-*"}, Stops: map[string]int{}}
	for _, idx := range indices {
		f.followers[idx] = idx
		f.SetSeqNos(idx, 9)
	}
	f.Fixture(RouteRemoteInfo, "lab/remote_info_sniff_connected.json")
	f.Set(RouteHealth, 200, Health("green"))
	f.Handle(RouteFollowerStats, f.followerStats)
	f.Handle(RouteAutofollowStats, f.autofollowStats)
	f.Handle("DELETE /_plugins/_replication/_autofollow", f.deleteRule)
	f.Handle(RouteSettingsAll, f.settings)
	for _, idx := range indices {
		f.Handle("POST /_plugins/_replication/"+idx+"/_stop", f.stop(idx))
		f.Handle("GET /"+idx+"/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards", f.settings)
	}
	sorted := slices.Sorted(slices.Values(indices))
	f.Handle("GET /_cluster/state/metadata,blocks/"+strings.Join(sorted, ","), f.clusterState)
	// a steady three-node cluster (lab/cluster_membership.json), every
	// primary active (the shape of lab/indices_health.json)
	f.Fixture(RouteMembership, "lab/cluster_membership.json")
	f.Handle("GET /_cluster/health/"+strings.Join(sorted, ","), f.indicesHealth)
	for _, idx := range indices {
		f.Handle("GET /_cluster/health/"+idx, f.indicesHealth)
	}
	f.Handle("GET /"+strings.Join(sorted, ",")+"/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards", f.settings)
	return f
}

// IsFollower reports whether idx is still a follower index.
func (f *CCRFollower) IsFollower(idx string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.followers[idx]
	return ok
}

// Rules returns the autofollow rule names left.
func (f *CCRFollower) Rules() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for r := range f.rules {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func (f *CCRFollower) followerStats(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stats := map[string]any{}
	for idx := range f.followers {
		stats[idx] = map[string]int64{"operations_written": 10, "operations_read": 10, "failed_read_requests": 0,
			"throttled_read_requests": 0, "failed_write_requests": 0, "throttled_write_requests": 0,
			"follower_checkpoint": 9, "leader_checkpoint": 9, "total_write_time_millis": 1}
	}
	n := len(f.followers)
	_ = json.NewEncoder(w).Encode(map[string]any{"num_syncing_indices": n, "num_bootstrapping_indices": 0,
		"num_paused_indices": 0, "num_failed_indices": 0, "num_shard_tasks": n, "num_index_tasks": n,
		"operations_written": 10 * n, "operations_read": 10 * n, "failed_read_requests": 0, "throttled_read_requests": 0,
		"failed_write_requests": 0, "throttled_write_requests": 0, "follower_checkpoint": 9 * n, "leader_checkpoint": 9 * n,
		"total_write_time_millis": n, "index_stats": stats})
}

func (f *CCRFollower) autofollowStats(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules := []map[string]any{}
	for name, pat := range f.rules {
		rules = append(rules, map[string]any{"name": name, "pattern": pat, "num_success_start_replication": 1,
			"num_failed_start_replication": 0, "num_failed_leader_calls": 0, "failed_indices": []string{}, "last_execution_time": 1})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"num_success_start_replication": 1, "num_failed_start_replication": 0,
		"num_failed_leader_calls": 0, "failed_indices": []string{}, "autofollow_stats": rules})
}

func (f *CCRFollower) deleteRule(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LeaderAlias string `json:"leader_alias"`
		Name        string `json:"name"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.LeaderAlias == "" || body.Name == "" {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":{"type":"illegal_argument_exception","reason":"leader_alias and name are required"},"status":400}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rules[body.Name]; !ok {
		w.WriteHeader(500) // what the plugin answers for an unknown rule
		fmt.Fprintf(w, `{"error":{"root_cause":[{"type":"exception","reason":"Autofollow replication rule %[1]s:%[2]s does not exist"}],"type":"exception","reason":"Autofollow replication rule %[1]s:%[2]s does not exist"},"status":500}`, body.LeaderAlias, body.Name)
		return
	}
	delete(f.rules, body.Name)
	fmt.Fprint(w, `{"acknowledged":true}`)
}

func (f *CCRFollower) settings(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settingsStatus != 0 {
		w.WriteHeader(f.settingsStatus)
		fmt.Fprintf(w, `{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":%d}`, f.settingsStatus)
		return
	}
	out := map[string]any{}
	for idx, leader := range f.followers {
		out[idx] = map[string]any{"settings": map[string]string{"index.number_of_shards": "1", "index.plugins.replication.follower.leader_index": "leader:" + leader}}
	}
	for idx := range f.plain {
		out[idx] = map[string]any{"settings": map[string]string{"index.number_of_shards": "1"}}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *CCRFollower) stop(idx string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.Stops[idx]++
		if strings.TrimSpace(string(b)) != "{}" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"type":"parse_exception","reason":"request body is required"},"status":400}`)
			return
		}
		if _, ok := f.followers[idx]; !ok {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"No replication in progress for index:%[1]s"}],"type":"illegal_argument_exception","reason":"No replication in progress for index:%[1]s"},"status":400}`, idx)
			return
		}
		delete(f.followers, idx)
		f.plain[idx] = true
		fmt.Fprint(w, `{"acknowledged":true}`)
	}
}

// indicesHealth answers the health of the indices of the path, green,
// one primary each, as lab/indices_health.json.
func (f *CCRFollower) indicesHealth(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{}
	for _, idx := range strings.Split(strings.TrimPrefix(r.URL.Path, "/_cluster/health/"), ",") {
		out[idx] = map[string]any{"status": "green", "number_of_shards": 1, "active_primary_shards": 1, "unassigned_shards": 0}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"indices": out})
}

func (f *CCRFollower) clusterState(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	meta, blocks := map[string]any{}, map[string]any{}
	for idx := range f.followers {
		meta[idx] = map[string]string{"state": "open"}
		blocks[idx] = map[string]any{"1000": map[string]any{"description": "index read-only(cross-cluster-replication)", "retryable": false, "levels": []string{"write", "metadata_write"}}}
	}
	for idx := range f.plain {
		meta[idx] = map[string]string{"state": "open"}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"indices": meta}, "blocks": map[string]any{"indices": blocks}})
}

// Unfollow turns idx into a normal index without a _stop request (Stops
// does not count it): what Aiven does on the follower service when its
// cross-cluster-replication integration is deleted (docs/aiven.md,
// "What promote to standalone is": replication stops and the follower
// accepts writes). The index then answers as after the lab's _stop: no
// leader-index setting, no replication block (follower_settings_after_stop.json,
// cluster_state_after_stop.json).
func (f *CCRFollower) Unfollow(idx string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.followers[idx]; ok {
		delete(f.followers, idx)
		f.plain[idx] = true
	}
}
