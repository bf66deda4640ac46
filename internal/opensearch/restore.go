package opensearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// The calls a failover drill's restore makes: the leader's write block
// lifted, the promoted copies deleted from the follower, replication
// started again as it was.

// UnblockWrite lifts the write block a promotion put on leader indices:
// PUT {indices}/_settings {"index.blocks.write": false} (the block is not
// replicated, docs/replication.md "Fencing the leader").
func (c *Client) UnblockWrite(ctx context.Context, indices []string) error {
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("ignore_unavailable", "true")
		if _, err := c.do(ctx, "lift the write block of leader indices", http.MethodPut, request{
			path: "/" + chunk + "/_settings", query: q, body: []byte(`{"index.blocks.write":false}`),
		}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteIndices deletes indices by exact name (never a pattern: a name
// with a wildcard is refused before any request). Missing ones are fine.
func (c *Client) DeleteIndices(ctx context.Context, indices []string) error {
	for _, ix := range indices {
		if ix == "" || strings.ContainsAny(ix, "*?,") || ix == "_all" {
			return fmt.Errorf("delete indices: refusing to delete %q: not one index name", ix)
		}
	}
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("ignore_unavailable", "true")
		q.Set("expand_wildcards", "none")
		if _, err := c.do(ctx, "delete indices", http.MethodDelete, request{path: "/" + chunk, query: q}); err != nil {
			return err
		}
	}
	return nil
}

// StartReplication starts replicating leaderIndex (on the cluster the
// follower calls alias) into index, without waiting for the bootstrap:
// PUT _plugins/_replication/{index}/_start, with use_roles when roles is
// not nil (the security plugin).
func (c *Client) StartReplication(ctx context.Context, index, alias, leaderIndex string, roles *config.UseRoles) error {
	body, _ := json.Marshal(replicationBody{LeaderAlias: alias, LeaderIndex: leaderIndex, UseRoles: roles})
	_, err := c.do(ctx, "start replication of "+index, http.MethodPut, request{
		path: "/_plugins/_replication/" + url.PathEscape(index) + "/_start", body: body,
	})
	return err
}

// replicationBody is the body of _start and of an autofollow rule.
type replicationBody struct {
	LeaderAlias string           `json:"leader_alias"`
	LeaderIndex string           `json:"leader_index,omitempty"`
	Name        string           `json:"name,omitempty"`
	Pattern     string           `json:"pattern,omitempty"`
	UseRoles    *config.UseRoles `json:"use_roles,omitempty"`
}

// CreateAutofollow creates an autofollow rule:
// POST _plugins/_replication/_autofollow, with use_roles when roles is not
// nil.
func (c *Client) CreateAutofollow(ctx context.Context, alias, name, pattern string, roles *config.UseRoles) error {
	body, _ := json.Marshal(replicationBody{LeaderAlias: alias, Name: name, Pattern: pattern, UseRoles: roles})
	_, err := c.do(ctx, "create autofollow rule "+name, http.MethodPost, request{
		path: "/_plugins/_replication/_autofollow", body: body,
	})
	return err
}

// Refresh makes recent writes of indices searchable (POST {indices}/_refresh).
func (c *Client) Refresh(ctx context.Context, indices []string) error {
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("ignore_unavailable", "true")
		if _, err := c.do(ctx, "refresh", http.MethodPost, request{path: "/" + chunk + "/_refresh", query: q}); err != nil {
			return err
		}
	}
	return nil
}

// Count is an index's document count (GET {index}/_count).
func (c *Client) Count(ctx context.Context, index string) (int64, error) {
	op := "count documents of " + index
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + url.PathEscape(index) + "/_count"})
	if err != nil {
		return 0, err
	}
	var out struct {
		Count *int64 `json:"count"`
	}
	if err := decode(op, body, &out); err != nil {
		return 0, err
	}
	if out.Count == nil {
		return 0, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no count in the answer"}
	}
	return *out.Count, nil
}
