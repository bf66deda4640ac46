package opensearch

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

// Health is the part of GET _cluster/health drwatch uses.
type Health struct {
	ClusterName string
	Status      string // green, yellow, red
	Nodes       int
}

// ClusterHealth calls GET _cluster/health (typed in opensearch-go v4).
func (c *Client) ClusterHealth(ctx context.Context) (Health, error) {
	const op = "cluster health"
	resp, err := c.API.Cluster.Health(ctx, &opensearchapi.ClusterHealthReq{})
	if err != nil {
		return Health{}, classifyTyped(ctx, op, resp, err)
	}
	switch resp.Status {
	case "green", "yellow", "red":
	default:
		return Health{}, &Error{Op: op, Class: ClassMalformed, Detail: "status is " + quote(resp.Status) + ", not green, yellow or red"}
	}
	return Health{ClusterName: resp.ClusterName, Status: resp.Status, Nodes: resp.NumberOfNodes}, nil
}

// classifyTyped turns an error from a typed opensearchapi call into an *Error.
func classifyTyped(ctx context.Context, op string, resp interface {
	Inspect() opensearchapi.Inspect
}, err error) error {
	if resp != nil {
		if r := resp.Inspect().Response; r != nil && r.StatusCode != 0 && (r.StatusCode < 200 || r.StatusCode > 299) {
			// The typed call already consumed the body into a StructError.
			body, _ := readBody(r.Body)
			e := classifyStatus(op, r.StatusCode, body)
			if e.Type == "" && e.Detail == "" {
				e.Detail = parsedReason(err)
			}
			return e
		}
	}
	if isJSONError(err) {
		return &Error{Op: op, Class: ClassMalformed, Detail: "body is not the expected JSON"}
	}
	return classifyTransport(op, ctxErr(ctx, err))
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

// FollowerIndex is a follower index as its settings describe it.
type FollowerIndex struct {
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
				return nil, &Error{Op: op, Class: ClassMalformed, Detail: "index " + idx + " has no valid index.number_of_shards"}
			}
			out[idx] = FollowerIndex{LeaderIndex: leader, Shards: n}
		}
	}
	return out, nil
}

func quote(s string) string { return "\"" + s + "\"" }

// Checkpoint names the sequence-number checkpoint IndexCheckpoints sums.
type Checkpoint int

// Checkpoints of a shard.
const (
	// GlobalCheckpoint is what a leader has durably on all in-sync copies
	// (what replication reads up to).
	GlobalCheckpoint Checkpoint = iota
	// LocalCheckpoint is what a follower's primary has applied.
	LocalCheckpoint
)

// IndexCheckpoint is a checkpoint summed over an index's started primaries.
type IndexCheckpoint struct {
	Sum       int64
	Primaries int // started primaries seen; fewer than the shard count means the sum is partial
}

// IndexCheckpoints returns, per index, the sum over primary shards of the
// chosen checkpoint - in one request per ~3 KB of index names. The sum
// matches how the replication plugin reports checkpoints (summed over
// primaries), so lag = leader - follower compares like with like.
func (c *Client) IndexCheckpoints(ctx context.Context, indices []string, which Checkpoint) (map[string]IndexCheckpoint, error) {
	chunks := chunkNames(indices)
	if len(chunks) == 0 {
		chunks = []string{""}
	}
	out := map[string]IndexCheckpoint{}
	for _, chunk := range chunks {
		if err := c.indexCheckpoints(ctx, chunk, which, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// indexCheckpoints reads one chunk of names (see chunkNames) into out.
func (c *Client) indexCheckpoints(ctx context.Context, chunk string, which Checkpoint, out map[string]IndexCheckpoint) error {
	const op = "index stats"
	q := url.Values{}
	q.Set("level", "shards")
	q.Set("ignore_unavailable", "true")
	q.Set("filter_path", "indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no")
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + chunk + "/_stats/docs", query: q})
	if err != nil {
		return err
	}
	var raw struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				Routing struct {
					Primary bool `json:"primary"`
				} `json:"routing"`
				SeqNo *struct {
					GlobalCheckpoint *int64 `json:"global_checkpoint"`
					LocalCheckpoint  *int64 `json:"local_checkpoint"`
				} `json:"seq_no"`
			} `json:"shards"`
		} `json:"indices"`
	}
	if err := decode(op, body, &raw); err != nil {
		return err
	}
	for name, ix := range raw.Indices {
		var ic IndexCheckpoint
		for shard, copies := range ix.Shards {
			for _, cp := range copies {
				if !cp.Routing.Primary {
					continue
				}
				v := (*int64)(nil)
				if cp.SeqNo != nil {
					v = cp.SeqNo.GlobalCheckpoint
					if which == LocalCheckpoint {
						v = cp.SeqNo.LocalCheckpoint
					}
				}
				if v == nil {
					return &Error{Op: op, Class: ClassMalformed, Detail: "index " + name + " shard " + shard + " has no seq_no checkpoint"}
				}
				ic.Sum += *v
				ic.Primaries++
			}
		}
		out[name] = ic
	}
	return nil
}
