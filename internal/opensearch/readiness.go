package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/drwatch/drwatch/internal/observe"
)

// Calls of the readiness drill (internal/drill). Each reads; none writes.
// They take index names or patterns and make one request per chunk of
// them (chunkNames), so a pair's scope patterns cost one request each.

// targetQuery is the query of a read over names or patterns that may
// match nothing.
func targetQuery(expand string) url.Values {
	q := url.Values{}
	q.Set("ignore_unavailable", "true")
	q.Set("allow_no_indices", "true")
	q.Set("expand_wildcards", expand)
	return q
}

// Mappings reads the mappings of the indices matching targets with
// GET {targets}/_mapping: index -> its "mappings" object, as raw JSON
// (compare it parsed, not as text).
func (c *Client) Mappings(ctx context.Context, targets []string) (map[string]json.RawMessage, error) {
	const op = "index mappings"
	out := map[string]json.RawMessage{}
	for _, chunk := range chunkNames(targets) {
		body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + chunk + "/_mapping", query: targetQuery("open,closed")})
		if err != nil {
			return nil, err
		}
		var raw map[string]struct {
			Mappings json.RawMessage `json:"mappings"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for idx, v := range raw {
			if len(v.Mappings) == 0 || bytes.Equal(v.Mappings, []byte("null")) {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + idx + " has no mappings object"}
			}
			out[idx] = v.Mappings
		}
	}
	return out, nil
}

// IndexSettings reads every index setting of the indices matching targets
// with GET {targets}/_settings?flat_settings=true: index -> setting key ->
// its value (a string, or a list for list settings).
func (c *Client) IndexSettings(ctx context.Context, targets []string) (map[string]map[string]any, error) {
	return c.settings(ctx, "index settings", targets, "/_settings")
}

// settings reads GET {targets}{suffix} (open and closed indices, flat
// settings), one request per chunk of targets: each index's settings.
func (c *Client) settings(ctx context.Context, op string, targets []string, suffix string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, chunk := range chunkNames(targets) {
		q := targetQuery("open,closed")
		q.Set("flat_settings", "true")
		body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + chunk + suffix, query: q})
		if err != nil {
			return nil, err
		}
		var raw map[string]struct {
			Settings map[string]any `json:"settings"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for idx, v := range raw {
			if v.Settings == nil {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + idx + " has no settings object"}
			}
			out[idx] = v.Settings
		}
	}
	return out, nil
}

// DocCounts counts the documents of every open index matching targets in
// one search per chunk: a terms aggregation on _index (POST
// {targets}/_search, size 0). A search, unlike _stats, sees what a shard
// that went search-idle has not refreshed yet. expect is how many indices
// may answer (the aggregation's size); an index with no document has no
// bucket and is absent. A search that failed on any shard is an error:
// its counts would be short.
func (c *Client) DocCounts(ctx context.Context, targets []string, expect int) (map[string]int64, error) {
	const op = "document counts"
	out := map[string]int64{}
	size := max(expect, 1) + 10
	body, _ := json.Marshal(map[string]any{
		"size": 0, "track_total_hits": false,
		"aggs": map[string]any{"idx": map[string]any{"terms": map[string]any{"field": "_index", "size": size}}},
	})
	for _, chunk := range chunkNames(targets) {
		q := targetQuery("open")
		q.Set("filter_path", "_shards,aggregations.idx.buckets")
		ans, err := c.do(ctx, op, http.MethodPost, request{path: "/" + chunk + "/_search", query: q, body: body})
		if err != nil {
			return nil, err
		}
		var raw struct {
			Shards *struct {
				Total  int `json:"total"`
				Failed int `json:"failed"`
			} `json:"_shards"`
			Aggregations *struct {
				Idx struct {
					Buckets []struct {
						Key      string `json:"key"`
						DocCount *int64 `json:"doc_count"`
					} `json:"buckets"`
				} `json:"idx"`
			} `json:"aggregations"`
		}
		if err := decode(op, ans, &raw); err != nil {
			return nil, err
		}
		if raw.Shards == nil {
			return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no _shards in the answer"}
		}
		if raw.Shards.Failed > 0 {
			return nil, &Error{Op: op, Class: observe.ClassHTTP5xx, Detail: fmt.Sprintf("the search failed on %d of %d shards: counts would be short", raw.Shards.Failed, raw.Shards.Total)}
		}
		if raw.Aggregations == nil {
			if raw.Shards.Total == 0 {
				continue // no open index matched
			}
			return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no aggregations in the answer"}
		}
		for _, b := range raw.Aggregations.Idx.Buckets {
			if b.Key == "" || b.DocCount == nil {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "a bucket without key or doc_count"}
			}
			out[b.Key] += *b.DocCount
		}
	}
	return out, nil
}

// ReplicationStatus is GET _plugins/_replication/{index}/_status. The
// drill asks it only for follower indices follower_stats does not list
// (paused, failed, bootstrapping): for those the plugin answers from its
// own metadata. For a running index it asks the leader (HTTP 500 while
// the leader is down), which is why probes never use it.
type ReplicationStatus struct {
	Status      string `json:"status"` // SYNCING, BOOTSTRAPPING, PAUSED, FAILED, STOPPED, REPLICATION NOT IN PROGRESS
	Reason      string `json:"reason"`
	LeaderAlias string `json:"leader_alias"`
	LeaderIndex string `json:"leader_index"`
}

// ReplicationStatusOf calls GET _plugins/_replication/{index}/_status.
func (c *Client) ReplicationStatusOf(ctx context.Context, index string) (ReplicationStatus, error) {
	op := "replication status of " + index
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_plugins/_replication/" + url.PathEscape(index) + "/_status"})
	if err != nil {
		return ReplicationStatus{}, err
	}
	var st ReplicationStatus
	if err := decode(op, body, &st); err != nil {
		return ReplicationStatus{}, err
	}
	if st.Status == "" {
		return ReplicationStatus{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no status in the answer"}
	}
	return st, nil
}

// AuthInfo is who the cluster takes drwatch's credentials for
// (GET _plugins/_security/authinfo). Security false: the cluster has no
// security plugin (the endpoint has no handler), so it checks no
// permission at all.
type AuthInfo struct {
	Security     bool
	User         string
	Roles        []string
	BackendRoles []string
}

// Authinfo calls GET _plugins/_security/authinfo.
func (c *Client) Authinfo(ctx context.Context) (AuthInfo, error) {
	const op = "security authinfo"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_plugins/_security/authinfo"})
	if e, ok := AsError(err); ok && e.Class == observe.ClassPluginMissing {
		return AuthInfo{}, nil // no handler: the security plugin is not installed
	}
	if err != nil {
		return AuthInfo{}, err
	}
	var raw struct {
		UserName     *string  `json:"user_name"`
		Roles        []string `json:"roles"`
		BackendRoles []string `json:"backend_roles"`
	}
	if err := decode(op, body, &raw); err != nil {
		return AuthInfo{}, err
	}
	if raw.UserName == nil {
		return AuthInfo{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no user_name in the answer"}
	}
	return AuthInfo{Security: true, User: *raw.UserName, Roles: raw.Roles, BackendRoles: raw.BackendRoles}, nil
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// ReachRemote makes the cluster send one cross-cluster read to a remote
// alias: a search of size 0 on {alias}:{pattern}. A follower does not
// reconnect to its leader by itself after losing it until something
// makes such a request; the error says why it cannot (no such remote
// cluster, nothing to connect to).
func (c *Client) ReachRemote(ctx context.Context, alias, pattern string) error {
	op := "cross-cluster read through " + alias
	if alias == "" || strings.ContainsAny(alias, ":,/") {
		return &Error{Op: op, Class: observe.ClassHTTP4xx, Detail: "invalid remote alias " + quote(alias)}
	}
	q := targetQuery("open")
	q.Set("size", "0")
	q.Set("track_total_hits", "false")
	_, err := c.do(ctx, op, http.MethodGet, request{path: "/" + url.PathEscape(alias) + ":" + url.PathEscape(pattern) + "/_search", query: q})
	var e *Error
	if errors.As(err, &e) && e.Class == observe.ClassPluginMissing {
		// _search always has a handler: "no handler" here is not the
		// replication plugin missing, keep what the cluster said.
		e.Class = observe.ClassHTTP4xx
	}
	return err
}
