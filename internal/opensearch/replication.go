package opensearch

import "github.com/drwatch/drwatch/internal/observe"

// Types of the cross-cluster-replication plugin's responses. Field names
// follow the plugin's toXContent code (see internal/testutil/fakeos/testdata/SOURCES.md).

// ReplicationCounters are the counters follower_stats reports per index and,
// summed, at the top level.
type ReplicationCounters struct {
	OperationsWritten      int64 `json:"operations_written"`
	OperationsRead         int64 `json:"operations_read"`
	FailedReadRequests     int64 `json:"failed_read_requests"`
	ThrottledReadRequests  int64 `json:"throttled_read_requests"`
	FailedWriteRequests    int64 `json:"failed_write_requests"`
	ThrottledWriteRequests int64 `json:"throttled_write_requests"`
	FollowerCheckpoint     int64 `json:"follower_checkpoint"`
	LeaderCheckpoint       int64 `json:"leader_checkpoint"`
	TotalWriteTimeMillis   int64 `json:"total_write_time_millis"`
}

// FollowerStats is GET _plugins/_replication/follower_stats.
type FollowerStats struct {
	NumSyncingIndices       int64 `json:"num_syncing_indices"`
	NumBootstrappingIndices int64 `json:"num_bootstrapping_indices"`
	NumPausedIndices        int64 `json:"num_paused_indices"`
	NumFailedIndices        int64 `json:"num_failed_indices"`
	NumShardTasks           int64 `json:"num_shard_tasks"`
	NumIndexTasks           int64 `json:"num_index_tasks"`
	ReplicationCounters
	IndexStats map[string]ReplicationCounters `json:"index_stats"`
}

// indexStatsJSON decodes one index of index_stats. Its checkpoints are
// pointers (shadowing the embedded ones) so that a missing or null
// checkpoint is caught: decoded as 0 it would read as "no lag".
type indexStatsJSON struct {
	ReplicationCounters
	LeaderCheckpoint   *int64 `json:"leader_checkpoint"`
	FollowerCheckpoint *int64 `json:"follower_checkpoint"`
}

type followerStatsJSON struct {
	FollowerStats
	IndexStats *map[string]indexStatsJSON `json:"index_stats"`
}

// ParseFollowerStats decodes a follower_stats body. A body that does not
// have the documented shape - index_stats missing, an index without its
// checkpoints - is a malformed response, never a lag of zero.
func ParseFollowerStats(body []byte) (*FollowerStats, error) {
	const op = "follower stats"
	var raw followerStatsJSON
	if err := decode(op, body, &raw); err != nil {
		return nil, err
	}
	if raw.IndexStats == nil {
		return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index_stats is missing"}
	}
	fs := raw.FollowerStats
	fs.IndexStats = make(map[string]ReplicationCounters, len(*raw.IndexStats))
	for name, ix := range *raw.IndexStats {
		if ix.LeaderCheckpoint == nil || ix.FollowerCheckpoint == nil {
			return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index_stats." + name + " has no leader_checkpoint or follower_checkpoint"}
		}
		c := ix.ReplicationCounters
		c.LeaderCheckpoint, c.FollowerCheckpoint = *ix.LeaderCheckpoint, *ix.FollowerCheckpoint
		fs.IndexStats[name] = c
	}
	return &fs, nil
}

// AutofollowStats is GET _plugins/_replication/autofollow_stats.
type AutofollowStats struct {
	NumSuccessStartReplication int64            `json:"num_success_start_replication"`
	NumFailedStartReplication  int64            `json:"num_failed_start_replication"`
	NumFailedLeaderCalls       int64            `json:"num_failed_leader_calls"`
	FailedIndices              []string         `json:"failed_indices"`
	Rules                      []AutofollowRule `json:"autofollow_stats"`
}

// AutofollowRule is one rule in autofollow_stats.
type AutofollowRule struct {
	Name                       string   `json:"name"`
	Pattern                    string   `json:"pattern"`
	NumSuccessStartReplication int64    `json:"num_success_start_replication"`
	NumFailedStartReplication  int64    `json:"num_failed_start_replication"`
	NumFailedLeaderCalls       int64    `json:"num_failed_leader_calls"`
	FailedIndices              []string `json:"failed_indices"`
	LastExecutionTime          int64    `json:"last_execution_time"`
}
