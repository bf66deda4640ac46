package opensearch

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/drwatch/drwatch/internal/observe"
)

// Health is the part of GET _cluster/health drwatch uses.
type Health struct {
	ClusterName string
	Status      string // green, yellow, red
	Nodes       int
}

// ClusterHealth calls GET _cluster/health. It reads the answer through the
// client's bounded reader (not opensearch-go's typed call, which decodes a
// body of any size).
func (c *Client) ClusterHealth(ctx context.Context) (Health, error) {
	const op = "cluster health"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_cluster/health"})
	if err != nil {
		return Health{}, err
	}
	var h struct {
		ClusterName   string `json:"cluster_name"`
		Status        string `json:"status"`
		NumberOfNodes int    `json:"number_of_nodes"`
	}
	if err := decode(op, body, &h); err != nil {
		return Health{}, err
	}
	switch h.Status {
	case "green", "yellow", "red":
	default:
		return Health{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "status is " + quote(h.Status) + ", not green, yellow or red"}
	}
	return Health{ClusterName: h.ClusterName, Status: h.Status, Nodes: h.NumberOfNodes}, nil
}

// RemoteCluster is one alias of GET _remote/info. v4's typed RemoteInfo
// lacks the proxy-mode fields, so drwatch has its own type.
type RemoteCluster struct {
	Connected                bool     `json:"connected"`
	Mode                     string   `json:"mode"`
	SkipUnavailable          bool     `json:"skip_unavailable"`
	InitialConnectTimeout    string   `json:"initial_connect_timeout"`
	Seeds                    []string `json:"seeds"`
	NumNodesConnected        int      `json:"num_nodes_connected"`
	MaxConnectionsPerCluster int      `json:"max_connections_per_cluster"`
	ProxyAddress             string   `json:"proxy_address"`
	ServerName               string   `json:"server_name"`
	NumProxySocketsConnected int      `json:"num_proxy_sockets_connected"`
	MaxProxySocketConns      int      `json:"max_proxy_socket_connections"`
}

// RemoteInfo calls GET _remote/info.
func (c *Client) RemoteInfo(ctx context.Context) (map[string]RemoteCluster, error) {
	const op = "remote info"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_remote/info"})
	if err != nil {
		return nil, err
	}
	var out map[string]RemoteCluster
	if err := decode(op, body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// FollowerStats calls GET _plugins/_replication/follower_stats and returns
// the raw body; ParseFollowerStats decodes it (kept apart for benchmarks).
func (c *Client) FollowerStats(ctx context.Context) ([]byte, error) {
	return c.do(ctx, "follower stats", http.MethodGet, request{path: "/_plugins/_replication/follower_stats"})
}

// AutofollowStats calls GET _plugins/_replication/autofollow_stats.
func (c *Client) AutofollowStats(ctx context.Context) (AutofollowStats, error) {
	const op = "autofollow stats"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_plugins/_replication/autofollow_stats"})
	if err != nil {
		return AutofollowStats{}, err
	}
	var out AutofollowStats
	err = decode(op, body, &out)
	return out, err
}

// LeaderIndexSetting is set by the replication plugin on every follower index
// and removed by _stop: its presence is what makes an index a follower.
const LeaderIndexSetting = "index.plugins.replication.follower.leader_index"

// FollowerIndex is a follower index as its settings describe it. The
// plugin writes the setting as "<leader alias>:<leader index>".
type FollowerIndex struct {
	LeaderAlias string
	LeaderIndex string
	Shards      int
}

// FollowerIndices returns every index matching patterns on this cluster that
// is a follower index, with its leader index and shard count - in one
// request for a few patterns, and in requests of ~3 KB paths for thousands
// of index names (verification passes every planned index; OpenSearch
// rejects request lines over http.max_initial_line_length, 4 KB by default).
func (c *Client) FollowerIndices(ctx context.Context, patterns []string) (map[string]FollowerIndex, error) {
	const op = "follower index settings"
	q := url.Values{}
	q.Set("expand_wildcards", "open,closed")
	q.Set("ignore_unavailable", "true")
	q.Set("allow_no_indices", "true")
	q.Set("flat_settings", "true")
	chunks := chunkNames(patterns)
	if len(chunks) == 0 {
		chunks = []string{""}
	}
	out := map[string]FollowerIndex{}
	for _, chunk := range chunks {
		body, err := c.do(ctx, op, http.MethodGet, request{
			path:  "/" + chunk + "/_settings/" + LeaderIndexSetting + ",index.number_of_shards",
			query: q,
		})
		if err != nil {
			return nil, err
		}
		var raw map[string]struct {
			Settings struct {
				LeaderIndex string `json:"index.plugins.replication.follower.leader_index"`
				Shards      string `json:"index.number_of_shards"`
			} `json:"settings"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for idx, v := range raw {
			leader := v.Settings.LeaderIndex
			if leader == "" {
				continue
			}
			n, err := strconv.Atoi(v.Settings.Shards)
			if err != nil || n < 1 {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + idx + " has no valid index.number_of_shards"}
			}
			alias, name, found := strings.Cut(leader, ":")
			if !found || alias == "" || name == "" {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + idx + " has " + LeaderIndexSetting + " " + quote(leader) + ", not <alias>:<index>"}
			}
			out[idx] = FollowerIndex{LeaderAlias: alias, LeaderIndex: name, Shards: n}
		}
	}
	return out, nil
}

func quote(s string) string { return "\"" + s + "\"" }

// ShardSeqNo is one started primary shard's sequence numbers.
type ShardSeqNo struct {
	// MaxSeqNo is the highest sequence number the shard has assigned:
	// every write the shard acknowledged is at or below it.
	MaxSeqNo int64
	// LocalCheckpoint is the highest sequence number below which the
	// shard has processed every operation (on a follower: what it has
	// replayed from its leader).
	LocalCheckpoint int64
	// GlobalCheckpoint is what every in-sync copy has processed.
	GlobalCheckpoint int64
}

// IndexSeqNos are an index's started primary shards by shard number. A
// shard whose primary is not started is absent.
type IndexSeqNos map[int]ShardSeqNo

// ShardSeqNos reads the sequence numbers of every started primary shard of
// indices (names or patterns) in one request: GET {indices}/_stats with
// level=shards. When the names do not fit one request line (OpenSearch
// limits it to 4 KB) it reads every index (_all) instead and keeps those
// named, so a probe cycle costs one request whatever the index count.
func (c *Client) ShardSeqNos(ctx context.Context, indices []string) (map[string]IndexSeqNos, error) {
	const op = "shard sequence numbers"
	target, keep := "_all", func(string) bool { return true }
	switch chunks := chunkNames(indices); len(chunks) {
	case 0:
		return map[string]IndexSeqNos{}, nil
	case 1:
		target = chunks[0]
	default:
		// _all, keeping what the request would have named: the names,
		// and what the patterns among them match.
		names := make(map[string]bool, len(indices))
		var patterns []string
		for _, n := range indices {
			if strings.ContainsRune(n, '*') || strings.HasPrefix(n, "-") {
				patterns = append(patterns, n)
			} else {
				names[n] = true
			}
		}
		keep = func(name string) bool { return names[name] || (len(patterns) > 0 && InScope(name, patterns)) }
	}
	q := url.Values{}
	q.Set("level", "shards")
	q.Set("ignore_unavailable", "true")
	q.Set("allow_no_indices", "true")
	q.Set("filter_path", "indices.*.shards.*.routing.primary,indices.*.shards.*.routing.state,indices.*.shards.*.seq_no")
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + target + "/_stats/docs", query: q})
	if err != nil {
		return nil, err
	}
	return parseShardSeqNos(op, body, keep)
}

// ParseShardSeqNos decodes a ShardSeqNos answer (kept apart for benchmarks).
func ParseShardSeqNos(body []byte) (map[string]IndexSeqNos, error) {
	return parseShardSeqNos("shard sequence numbers", body, func(string) bool { return true })
}

func parseShardSeqNos(op string, body []byte, keep func(string) bool) (map[string]IndexSeqNos, error) {
	var raw struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				Routing struct {
					Primary bool   `json:"primary"`
					State   string `json:"state"`
				} `json:"routing"`
				SeqNo *struct {
					MaxSeqNo         *int64 `json:"max_seq_no"`
					LocalCheckpoint  *int64 `json:"local_checkpoint"`
					GlobalCheckpoint *int64 `json:"global_checkpoint"`
				} `json:"seq_no"`
			} `json:"shards"`
		} `json:"indices"`
	}
	if err := decode(op, body, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]IndexSeqNos, len(raw.Indices))
	for name, ix := range raw.Indices {
		if !keep(name) {
			continue
		}
		shards := IndexSeqNos{}
		for id, copies := range ix.Shards {
			n, err := strconv.Atoi(id)
			if err != nil || n < 0 {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + name + " has shard " + quote(id)}
			}
			for _, cp := range copies {
				if !cp.Routing.Primary || cp.Routing.State != "STARTED" {
					continue
				}
				s := cp.SeqNo
				if s == nil || s.MaxSeqNo == nil || s.LocalCheckpoint == nil || s.GlobalCheckpoint == nil {
					return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + name + " shard " + id + " has no seq_no"}
				}
				shards[n] = ShardSeqNo{MaxSeqNo: *s.MaxSeqNo, LocalCheckpoint: *s.LocalCheckpoint, GlobalCheckpoint: *s.GlobalCheckpoint}
			}
		}
		out[name] = shards
	}
	return out, nil
}

// ShardLag is how many operations the follower copy of an index lacks
// compared with its leader: per shard, the leader primary's max_seq_no (every
// write it acknowledged) minus the follower primary's local checkpoint (what
// it has replayed), summed. ok is false unless every one of the index's
// shards has a started primary on both sides: a partial sum would
// understate the lag.
func ShardLag(leader, follower IndexSeqNos, shards int) (lag, leaderSum, followerSum int64, ok bool) {
	if shards < 1 || len(leader) < shards || len(follower) < shards {
		return 0, 0, 0, false
	}
	for s := range shards {
		l, lok := leader[s]
		f, fok := follower[s]
		if !lok || !fok {
			return 0, 0, 0, false
		}
		lag += max(0, l.MaxSeqNo-f.LocalCheckpoint)
		leaderSum += l.MaxSeqNo
		followerSum += f.LocalCheckpoint
	}
	return lag, leaderSum, followerSum, true
}
