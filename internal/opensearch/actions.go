package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
)

// ErrNotReplicating is what _stop answers for an index that is not (or no
// longer) replicating: HTTP 400 "No replication in progress for index:X".
// After a retry or a restart it means the stop already happened.
var ErrNotReplicating = errors.New("no replication in progress")

// StopReplication calls POST _plugins/_replication/{index}/_stop with the
// {} body 2.19 requires. It makes the follower index a normal writable
// index. It is not idempotent on the server; ErrNotReplicating (wrapped)
// reports the "already stopped" answer.
func (c *Client) StopReplication(ctx context.Context, index string) error {
	op := "stop replication of " + index
	_, err := c.do(ctx, op, http.MethodPost, request{
		path: "/_plugins/_replication/" + url.PathEscape(index) + "/_stop",
		body: []byte("{}"),
	})
	if e, ok := AsError(err); ok && e.Status == http.StatusBadRequest && strings.Contains(e.Detail, "No replication in progress") {
		return errors.Join(ErrNotReplicating, err)
	}
	return err
}

// WriteBlocks reads the cluster's blocks (GET _cluster/state/blocks) and
// returns those that refuse writes (their levels include "write"): the
// cluster-wide ones and each index's, as "id: description" (a disk
// watermark's read_only_allow_delete is "12: disk usage exceeded
// flood-stage watermark, ...").
func (c *Client) WriteBlocks(ctx context.Context) (global []string, indices map[string][]string, err error) {
	const op = "cluster blocks"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_cluster/state/blocks"})
	if err != nil {
		return nil, nil, err
	}
	type block struct {
		Description string   `json:"description"`
		Levels      []string `json:"levels"`
	}
	var st struct {
		Blocks struct {
			Global  map[string]block            `json:"global"`
			Indices map[string]map[string]block `json:"indices"`
		} `json:"blocks"`
	}
	if err := decode(op, body, &st); err != nil {
		return nil, nil, err
	}
	writes := func(m map[string]block) []string {
		var out []string
		for id, b := range m {
			if slices.Contains(b.Levels, "write") {
				out = append(out, id+": "+b.Description)
			}
		}
		slices.Sort(out)
		return out
	}
	global = writes(st.Blocks.Global)
	indices = map[string][]string{}
	for name, m := range st.Blocks.Indices {
		if w := writes(m); len(w) > 0 {
			indices[name] = w
		}
	}
	return global, indices, nil
}

// RetentionLeasePeriods reads index.soft_deletes.retention_lease.period of
// indices (their own setting, else the default): how long the leader keeps
// the history a follower that stopped fetching needs to resume.
func (c *Client) RetentionLeasePeriods(ctx context.Context, indices []string) (map[string]time.Duration, error) {
	const op = "retention lease periods"
	const key = "index.soft_deletes.retention_lease.period"
	out := map[string]time.Duration{}
	for _, chunk := range chunkNames(indices) {
		q := url.Values{"include_defaults": {"true"}, "flat_settings": {"true"}, "ignore_unavailable": {"true"}, "allow_no_indices": {"true"}}
		body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + chunk + "/_settings/" + key, query: q})
		if err != nil {
			return nil, err
		}
		var ans map[string]struct {
			Settings map[string]string `json:"settings"`
			Defaults map[string]string `json:"defaults"`
		}
		if err := decode(op, body, &ans); err != nil {
			return nil, err
		}
		for name, ix := range ans {
			v, ok := ix.Settings[key]
			if !ok {
				v, ok = ix.Defaults[key]
			}
			if !ok {
				continue
			}
			d, err := ParseTimeValue(v)
			if err != nil {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: name + ": " + err.Error()}
			}
			out[name] = d
		}
	}
	return out, nil
}

// ParseTimeValue reads an OpenSearch time value: a number and a unit
// (nanos, micros, ms, s, m, h, d).
func ParseTimeValue(v string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok && n != "" {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f < 0 {
				break
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, errors.New("not a time value: " + quote(v))
}

// OpenIndex opens a closed index (POST {index}/_open): a follower index
// whose _stop removed its replication but was cut short before it
// reopened it.
func (c *Client) OpenIndex(ctx context.Context, index string) error {
	_, err := c.do(ctx, "open "+index, http.MethodPost, request{path: "/" + url.PathEscape(index) + "/_open"})
	return err
}

// RemoteClusterSettings returns the follower's cluster settings of a remote
// alias (cluster.remote.<alias>.*), persistent and transient, flat, with
// their values as JSON.
func (c *Client) RemoteClusterSettings(ctx context.Context, alias string) (map[string]json.RawMessage, error) {
	const op = "cluster settings"
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_cluster/settings", query: url.Values{"flat_settings": {"true"}}})
	if err != nil {
		return nil, err
	}
	var st struct {
		Persistent map[string]json.RawMessage `json:"persistent"`
		Transient  map[string]json.RawMessage `json:"transient"`
	}
	if err := decode(op, body, &st); err != nil {
		return nil, err
	}
	prefix := "cluster.remote." + alias + "."
	out := map[string]json.RawMessage{}
	for _, m := range []map[string]json.RawMessage{st.Persistent, st.Transient} {
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				out[k] = v
			}
		}
	}
	return out, nil
}

// DetachAddress is where DetachRemoteCluster points a remote alias: the
// follower's own loopback, port 1, which refuses connections.
const DetachAddress = "127.0.0.1:1"

// DetachRemoteCluster points a remote alias at DetachAddress in proxy
// mode, clearing its other settings (keys, persistent and transient): the
// follower drops its connection to the cluster the alias named, every
// request it had pending there fails at once, and the alias stays known,
// reading disconnected - to every pair that follows through it.
func (c *Client) DetachRemoteCluster(ctx context.Context, alias string, keys []string) error {
	mode, addr := "cluster.remote."+alias+".mode", "cluster.remote."+alias+".proxy_address"
	persistent := map[string]any{mode: "proxy", addr: DetachAddress}
	transient := map[string]any{}
	for _, k := range keys {
		transient[k] = nil
		if k != mode && k != addr {
			persistent[k] = nil
		}
	}
	body, err := json.Marshal(map[string]any{"persistent": persistent, "transient": transient})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, "detach the remote cluster", http.MethodPut, request{path: "/_cluster/settings", body: body})
	return err
}

// DeleteAutofollow deletes an autofollow rule (indices it started keep
// replicating). The body carries leader_alias and name, no pattern.
func (c *Client) DeleteAutofollow(ctx context.Context, alias, name string) error {
	body, _ := json.Marshal(map[string]string{"leader_alias": alias, "name": name})
	_, err := c.do(ctx, "delete autofollow rule "+name, http.MethodDelete, request{
		path: "/_plugins/_replication/_autofollow", body: body,
	})
	return err
}

// BlockWrite adds a write block to indices (fencing the old leader). The
// block is not replicated to followers. A shard that refused the block's
// shard-level action to drwatch's user (an answer of HTTP 200 with
// "acknowledged": false, its failure a security_exception) is an error
// naming that permission: the index then holds only the block's
// temporary form.
func (c *Client) BlockWrite(ctx context.Context, indices []string) error {
	const op = "write-block leader indices"
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("ignore_unavailable", "true")
		body, err := c.do(ctx, op, http.MethodPut, request{
			path: "/" + chunk + "/_block/write", query: q,
		})
		if err != nil {
			return err
		}
		if e := blockRefusal(op, body); e != nil {
			return c.explain(e)
		}
	}
	return nil
}

// blockRefusal reads an add-block answer for a shard's security refusal.
func blockRefusal(op string, body []byte) *Error {
	var ans struct {
		Acknowledged *bool `json:"acknowledged"`
		Indices      []struct {
			Name         string `json:"name"`
			FailedShards []struct {
				Failures []struct {
					Status string      `json:"status"`
					Reason errorDetail `json:"reason"`
				} `json:"failures"`
			} `json:"failed_shards"`
		} `json:"indices"`
	}
	if json.Unmarshal(body, &ans) != nil || ans.Acknowledged == nil || *ans.Acknowledged {
		return nil
	}
	for _, ix := range ans.Indices {
		for _, sh := range ix.FailedShards {
			for _, f := range sh.Failures {
				if f.Reason.Type == "security_exception" {
					e := &Error{Op: op, Class: observe.ClassAuth, Status: http.StatusForbidden, Type: f.Reason.Type, Detail: truncate(f.Reason.Reason, 300)}
					e.Permission, e.User = refusal(f.Reason.Reason)
					return e
				}
			}
		}
	}
	return nil
}

// IndexState is what verification reads about an index.
type IndexState struct {
	Exists bool
	Open   bool
	// Blocks are the index's cluster blocks.
	Blocks []Block
}

// Block is one of an index's cluster blocks (GET _cluster/state/blocks).
type Block struct {
	ID          string // the block's id, as the cluster state keys it
	Description string
}

func (b Block) String() string { return b.ID + ": " + b.Description }

// ReplicationBlockID is the id of the replication plugin's block on a
// follower index (INDEX_REPLICATION_BLOCK, "index read-only(cross-cluster-
// replication)": writes and metadata writes refused until _stop removes it).
const ReplicationBlockID = "1000"

// replicationBlockName is the plugin's own name for its block, in the
// block's description.
const replicationBlockName = "cross-cluster-replication"

// ReplicationBlock is the index's replication block, if it still carries
// it: the block of the plugin's id, or - should a build number it
// otherwise - a block the plugin describes as its own. A block missed
// would let verify pass an index that still refuses writes.
func (s IndexState) ReplicationBlock() (Block, bool) {
	for _, b := range s.Blocks {
		if b.ID == ReplicationBlockID || strings.Contains(b.Description, replicationBlockName) {
			return b, true
		}
	}
	return Block{}, false
}

// IndexStates reads the open/close state and blocks of indices from the
// cluster state, one request per chunk of names.
func (c *Client) IndexStates(ctx context.Context, indices []string) (map[string]IndexState, error) {
	const op = "cluster state"
	out := make(map[string]IndexState, len(indices))
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("filter_path", "metadata.indices.*.state,blocks.indices")
		q.Set("ignore_unavailable", "true")
		q.Set("expand_wildcards", "open,closed")
		body, err := c.do(ctx, op, http.MethodGet, request{path: "/_cluster/state/metadata,blocks/" + chunk, query: q})
		if err != nil {
			return nil, err
		}
		var raw struct {
			Metadata struct {
				Indices map[string]struct {
					State string `json:"state"`
				} `json:"indices"`
			} `json:"metadata"`
			Blocks struct {
				Indices map[string]map[string]struct {
					Description string `json:"description"`
				} `json:"indices"`
			} `json:"blocks"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for name, m := range raw.Metadata.Indices {
			st := IndexState{Exists: true, Open: m.State == "open"}
			for id, b := range raw.Blocks.Indices[name] {
				st.Blocks = append(st.Blocks, Block{ID: id, Description: b.Description})
			}
			slices.SortFunc(st.Blocks, func(a, b Block) int { return strings.Compare(a.ID, b.ID) })
			out[name] = st
		}
	}
	return out, nil
}

// chunkNames joins escaped index names into comma lists that keep URLs
// short (thousands of indices make several requests of ~3 KB paths).
func chunkNames(indices []string) []string {
	const maxLen = 3000
	var chunks []string
	var b strings.Builder
	for _, n := range indices {
		e := url.PathEscape(n)
		if b.Len() > 0 && b.Len()+1+len(e) > maxLen {
			chunks = append(chunks, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e)
	}
	if b.Len() > 0 {
		chunks = append(chunks, b.String())
	}
	return chunks
}
