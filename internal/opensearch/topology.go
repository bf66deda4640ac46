package opensearch

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/drwatch/drwatch/internal/observe"
)

// Topology is a cluster's membership as one node sees it: the elected
// cluster manager and the nodes that have joined.
type Topology struct {
	// Manager is the node id of the elected cluster manager ("" while
	// none is elected).
	Manager string
	// Nodes maps node id to node name.
	Nodes map[string]string
}

// Same reports whether t and o have the same cluster manager and nodes.
func (t Topology) Same(o Topology) bool {
	return t.Manager == o.Manager && maps.Equal(t.Nodes, o.Nodes)
}

// Change says in words how o differs from t ("" when it does not).
func (t Topology) Change(o Topology) string {
	var parts []string
	if t.Manager != o.Manager {
		parts = append(parts, fmt.Sprintf("cluster manager %s -> %s", t.name(t.Manager), o.name(o.Manager)))
	}
	var left, joined []string
	for id, n := range t.Nodes {
		if _, ok := o.Nodes[id]; !ok {
			left = append(left, n)
		}
	}
	for id, n := range o.Nodes {
		if _, ok := t.Nodes[id]; !ok {
			joined = append(joined, n)
		}
	}
	slices.Sort(left)
	slices.Sort(joined)
	if len(left) > 0 {
		parts = append(parts, "left: "+strings.Join(left, ", "))
	}
	if len(joined) > 0 {
		parts = append(parts, "joined: "+strings.Join(joined, ", "))
	}
	return strings.Join(parts, "; ")
}

func (t Topology) name(id string) string {
	switch n, ok := t.Nodes[id]; {
	case id == "":
		return "none"
	case ok && n != "":
		return n
	default:
		return id
	}
}

// Topology reads the cluster manager and the nodes from the cluster
// state of the node asked (local=true: it answers while no cluster
// manager is elected, which is when it matters).
func (c *Client) Topology(ctx context.Context) (Topology, error) {
	const op = "cluster membership"
	q := url.Values{}
	q.Set("local", "true")
	q.Set("filter_path", "master_node,nodes.*.name")
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_cluster/state/master_node,nodes", query: q})
	if err != nil {
		return Topology{}, err
	}
	var raw struct {
		Manager *string `json:"master_node"`
		Nodes   map[string]struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := decode(op, body, &raw); err != nil {
		return Topology{}, err
	}
	if len(raw.Nodes) == 0 {
		return Topology{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "no nodes in the cluster state"}
	}
	t := Topology{Nodes: make(map[string]string, len(raw.Nodes))}
	if raw.Manager != nil {
		t.Manager = *raw.Manager
	}
	for id, n := range raw.Nodes {
		t.Nodes[id] = n.Name
	}
	return t, nil
}

// CloseIndices closes indices (POST {indices}/_close), one request per
// chunk of names; an answer not acknowledged is an error.
func (c *Client) CloseIndices(ctx context.Context, indices []string) error {
	return c.openClose(ctx, "close", indices)
}

// OpenIndices opens indices (POST {indices}/_open), one request per chunk
// of names; an answer not acknowledged is an error.
func (c *Client) OpenIndices(ctx context.Context, indices []string) error {
	return c.openClose(ctx, "open", indices)
}

func (c *Client) openClose(ctx context.Context, verb string, indices []string) error {
	for _, chunk := range chunkNames(indices) {
		op := verb + " " + strings.ReplaceAll(chunk, ",", ", ")
		body, err := c.do(ctx, op, http.MethodPost, request{path: "/" + chunk + "/_" + verb})
		if err != nil {
			return err
		}
		var ack struct {
			Acknowledged *bool `json:"acknowledged"`
		}
		if err := decode(op, body, &ack); err != nil {
			return err
		}
		if ack.Acknowledged == nil {
			return &Error{Op: op, Class: observe.ClassMalformed, Detail: "no acknowledged field"}
		}
		if !*ack.Acknowledged {
			return fmt.Errorf("%s: not acknowledged by the cluster in time", op)
		}
	}
	return nil
}

// IndexHealth is an index's shard allocation.
type IndexHealth struct {
	Status          string // green, yellow, red
	Shards          int    // primaries
	ActivePrimaries int
	Unassigned      int
}

// IndicesHealth reads the health of indices (GET
// _cluster/health/{indices}?level=indices), one request per chunk of
// names. An index missing from the answer (it does not exist) is
// missing from the map.
func (c *Client) IndicesHealth(ctx context.Context, indices []string) (map[string]IndexHealth, error) {
	const op = "index health"
	out := make(map[string]IndexHealth, len(indices))
	for _, chunk := range chunkNames(indices) {
		q := url.Values{}
		q.Set("level", "indices")
		// An index that does not exist makes health wait for it (30 s by
		// default) and answer 408 with the others: wait briefly.
		q.Set("timeout", "1s")
		q.Set("filter_path", "indices.*.status,indices.*.number_of_shards,indices.*.active_primary_shards,indices.*.unassigned_shards")
		_, body, err := c.doAllow(ctx, op, http.MethodGet, request{path: "/_cluster/health/" + chunk, query: q}, http.StatusRequestTimeout)
		if err != nil {
			return nil, err
		}
		var raw struct {
			Indices map[string]struct {
				Status          string `json:"status"`
				Shards          *int   `json:"number_of_shards"`
				ActivePrimaries *int   `json:"active_primary_shards"`
				Unassigned      int    `json:"unassigned_shards"`
			} `json:"indices"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for name, h := range raw.Indices {
			if h.Shards == nil || h.ActivePrimaries == nil {
				return nil, &Error{Op: op, Class: observe.ClassMalformed, Detail: "index " + quote(name) + " without number_of_shards or active_primary_shards"}
			}
			out[name] = IndexHealth{Status: h.Status, Shards: *h.Shards, ActivePrimaries: *h.ActivePrimaries, Unassigned: h.Unassigned}
		}
	}
	return out, nil
}
