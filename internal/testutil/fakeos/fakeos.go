// Package fakeos is an httptest OpenSearch for unit tests. It answers with
// answers captured from the real lab - OpenSearch 2.19.3 with the
// replication plugin (testdata/lab/, see testdata/SOURCES.md) - and keeps a
// model of shard sequence numbers that _stats answers in the captured
// shape. Unknown endpoints answer the way OpenSearch does: 400 "no handler
// found for uri".
//
// The end-to-end tests use real clusters; this is for what a unit test can
// prove.
package fakeos

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

//go:embed testdata/*.json testdata/lab/*.json testdata/lab-3.4.0/*.json
var fixtures embed.FS

// Routes of the calls a probe makes.
const (
	RouteHealth          = "GET /_cluster/health"
	RouteRemoteInfo      = "GET /_remote/info"
	RouteFollowerStats   = "GET /_plugins/_replication/follower_stats"
	RouteAutofollowStats = "GET /_plugins/_replication/autofollow_stats"
	// RouteTasks is GET _tasks (the witness's task check).
	RouteTasks = "GET /_tasks"
	// RouteBlocks is the leader's blocks.
	RouteBlocks = "GET /_cluster/state/blocks"
	// RouteMembership is the cluster manager and nodes (local=true).
	RouteMembership = "GET /_cluster/state/master_node,nodes"
	// RouteWitness is the active witness's cross-cluster search through
	// the alias "leader".
	RouteWitness = "GET /leader:drwatch-witness/_search"
	// RouteSettingsAll is the follower-index settings call for indices: ["*"].
	RouteSettingsAll = "GET /*/_settings/index.plugins.replication.follower.leader_index,index.number_of_shards"
)

// Cluster is a fake OpenSearch cluster.
type Cluster struct {
	t      testing.TB
	Server *httptest.Server

	mu       sync.Mutex
	routes   map[string]response
	handlers map[string]http.HandlerFunc
	delay    time.Duration
	hits     map[string]int
	inflight map[string]int     // requests being answered, by route
	seqnos   map[string][]SeqNo // index -> its primaries by shard number
}

// SeqNo is a primary shard's sequence numbers in the fake's model.
type SeqNo struct{ Max, Local, Global int64 }

type response struct {
	status int
	body   string
}

// New starts a fake cluster, closed when the test ends.
func New(t testing.TB) *Cluster {
	c := &Cluster{t: t, routes: map[string]response{}, handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}, inflight: map[string]int{}, seqnos: map[string][]SeqNo{}}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Server.Close)
	return c
}

// NewLeader is a fake leader: green health, and the sequence numbers of
// orders-1, orders-2 (two shards each) and logs-1 (one shard) as the real
// lab's leader answered them (testdata/lab/leader_seqnos_running.json).
func NewLeader(t testing.TB) *Cluster {
	c := New(t)
	c.Set(RouteHealth, 200, Health("green"))
	c.Fixture(RouteBlocks, "lab/leader_blocks_none.json")
	c.Handle("GET /*/_settings/index.soft_deletes.retention_lease.period", fixtureHandler("lab/leader_retention_lease_period.json"))
	c.LoadSeqNos("lab/leader_seqnos_running.json")
	return c
}

// NewLeaderOf is NewLeader holding only the named indices of the capture:
// the leader of a follower that follows just those (any other leader
// index in the pair's scope would be one no follower follows).
func NewLeaderOf(t testing.TB, names ...string) *Cluster {
	c := NewLeader(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range c.seqnos {
		if !slices.Contains(names, n) {
			delete(c.seqnos, n)
		}
	}
	return c
}

// NewFollower is a fake follower replicating orders-1, orders-2 (two
// shards each) and logs-1 (one shard), all caught up, remote "leader"
// connected, one autofollow rule "logs": every answer captured from the
// real lab with the replication plugin (testdata/lab/*_running.json).
func NewFollower(t testing.TB) *Cluster {
	c := New(t)
	c.Fixture(RouteRemoteInfo, "lab/remote_info_sniff_connected.json")
	c.Fixture(RouteFollowerStats, "lab/follower_stats_running.json")
	c.Fixture(RouteAutofollowStats, "lab/autofollow_stats.json")
	c.Fixture(RouteWitness, "lab/witness_reached.json")
	c.Fixture(RouteSettingsAll, "lab/follower_settings.json")
	c.Set(RouteHealth, 200, Health("green"))
	c.LoadSeqNos("lab/follower_seqnos_running.json")
	return c
}

func (c *Cluster) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	c.mu.Lock()
	c.hits[route]++
	c.inflight[route]++
	defer func() {
		c.mu.Lock()
		c.inflight[route]--
		c.mu.Unlock()
	}()
	resp, ok := c.routes[route]
	h := c.handlers[route]
	delay := c.delay
	c.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if h != nil {
		h(w, r)
		return
	}
	if !ok && route == RouteTasks {
		// The follower's tasks: one search task, with the witness's
		// X-Opaque-Id, per witness request being answered (as the real
		// follower lists a cross-cluster search waiting on its leader).
		c.mu.Lock()
		n := c.inflight[RouteWitness]
		c.mu.Unlock()
		var b strings.Builder
		b.WriteString(`{"nodes":{"n1":{"tasks":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"n1:%d":{"action":"indices:data/read/search","headers":{"X-Opaque-Id":"drwatch-witness"}}`, i+1)
		}
		b.WriteString(`}}}}`)
		_, _ = w.Write([]byte(b.String()))
		return
	}
	if !ok && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_stats/docs") {
		c.serveSeqNos(w, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/_stats/docs"))
		return
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"no handler found for uri [%s] and method [%s]"}`, r.URL.Path, r.Method)
		return
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write([]byte(resp.body))
}

// Set makes route ("GET /path") answer status and body.
func (c *Cluster) Set(route string, status int, body string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.routes[route] = response{status, body}
}

// Handle makes route answer with a handler (stateful fakes).
func (c *Cluster) Handle(route string, h http.HandlerFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[route] = h
}

// Remove makes route unknown (answered like a missing plugin endpoint).
func (c *Cluster) Remove(route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.routes, route)
	delete(c.handlers, route)
}

// Fixture makes route answer 200 with a fixture file of testdata/.
func (c *Cluster) Fixture(route, name string) { c.FixtureStatus(route, 200, name) }

// FixtureStatus makes route answer status with a fixture file of
// testdata/ (a captured error answer).
func (c *Cluster) FixtureStatus(route string, status int, name string) {
	b, err := c.FixtureBody(name)
	if err != nil {
		c.t.Fatalf("fixture %s: %v", name, err)
	}
	c.Set(route, status, string(b))
}

// fixtureHandler answers 200 with a fixture (whatever the query).
func fixtureHandler(name string) http.HandlerFunc {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(b) }
}

// FixtureBody is a fixture file of testdata/.
func (c *Cluster) FixtureBody(name string) ([]byte, error) {
	return fixtures.ReadFile("testdata/" + name)
}

// SetSeqNos gives index one started primary per value, whose max_seq_no,
// local and global checkpoints are that value; GET {names}/_stats/docs
// answers them in the shape of the real capture
// (testdata/lab/leader_seqnos_running.json). No values: the index is gone.
func (c *Cluster) SetSeqNos(index string, perShard ...int64) {
	shards := make([]SeqNo, len(perShard))
	for i, v := range perShard {
		shards[i] = SeqNo{v, v, v}
	}
	c.SetShards(index, shards...)
}

// SetShards sets index's primaries (none: the index is gone).
func (c *Cluster) SetShards(index string, shards ...SeqNo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(shards) == 0 {
		delete(c.seqnos, index)
		return
	}
	c.seqnos[index] = shards
}

// SeqNos returns index's primaries.
func (c *Cluster) SeqNos(index string) []SeqNo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqnos[index])
}

// Advance adds ops acknowledged writes to shard of index (its max_seq_no
// and checkpoints): on a leader, writes the follower has not fetched.
func (c *Cluster) Advance(index string, shard int, ops int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sh := c.seqnos[index]
	if shard >= len(sh) {
		c.t.Fatalf("Advance: %s has no shard %d", index, shard)
	}
	sh[shard].Max += ops
	sh[shard].Local += ops
	sh[shard].Global += ops
}

// LoadSeqNos sets the model from a captured _stats?level=shards answer.
func (c *Cluster) LoadSeqNos(fixture string) {
	b, err := fixtures.ReadFile("testdata/" + fixture)
	if err != nil {
		c.t.Fatalf("fixture %s: %v", fixture, err)
	}
	var raw struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				Routing struct {
					Primary bool `json:"primary"`
				} `json:"routing"`
				SeqNo struct {
					Max    int64 `json:"max_seq_no"`
					Local  int64 `json:"local_checkpoint"`
					Global int64 `json:"global_checkpoint"`
				} `json:"seq_no"`
			} `json:"shards"`
		} `json:"indices"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		c.t.Fatalf("fixture %s: %v", fixture, err)
	}
	for name, ix := range raw.Indices {
		shards := make([]SeqNo, len(ix.Shards))
		for id, copies := range ix.Shards {
			n, err := strconv.Atoi(id)
			if err != nil || n >= len(shards) {
				c.t.Fatalf("fixture %s: index %s shard %q", fixture, name, id)
			}
			for _, cp := range copies {
				if cp.Routing.Primary {
					shards[n] = SeqNo{cp.SeqNo.Max, cp.SeqNo.Local, cp.SeqNo.Global}
				}
			}
		}
		c.SetShards(name, shards...)
	}
}

// serveSeqNos answers _stats for a comma list of names and patterns ("*",
// "logs-*", exclusions "-.*"), or _all.
func (c *Cluster) serveSeqNos(w http.ResponseWriter, target string) {
	_, _ = w.Write([]byte(c.SeqNosJSON(target)))
}

// SeqNosJSON renders the model's answer to GET {target}/_stats/docs
// (benchmarks serve it as a fixed body, to measure drwatch, not the fake).
func (c *Cluster) SeqNosJSON(target string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for name := range c.seqnos {
		if MatchTarget(target, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(`{"indices":{`)
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(seqNosJSON(name, c.seqnos[name]))
	}
	b.WriteString(`}}`)
	return b.String()
}

// MatchTarget is OpenSearch's reading of a target - "_all", or a comma
// list of names, patterns and exclusions ("-x") - for one index.
func MatchTarget(target, name string) bool {
	if target == "_all" {
		return true
	}
	in := false
	for _, p := range strings.Split(target, ",") {
		if x, ok := strings.CutPrefix(p, "-"); ok {
			if m, _ := path.Match(x, name); m {
				in = false
			}
			continue
		}
		if m, _ := path.Match(p, name); m {
			in = true
		}
	}
	return in
}

func seqNosJSON(index string, perShard []SeqNo) string {
	shards := make([]string, 0, len(perShard))
	for i, v := range perShard {
		shards = append(shards, fmt.Sprintf(`"%d":[{"routing":{"state":"STARTED","primary":true},"seq_no":{"max_seq_no":%d,"local_checkpoint":%d,"global_checkpoint":%d}}]`, i, v.Max, v.Local, v.Global))
	}
	return fmt.Sprintf(`%q:{"shards":{%s}}`, index, strings.Join(shards, ","))
}

// SetDelay delays every answer.
func (c *Cluster) SetDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay = d
}

// Hits is how many requests route received.
func (c *Cluster) Hits(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[route]
}

// HitsContaining is how many requests, of any route, had s in their route
// ("POST /_plugins/_replication/x/_stop"): e.g. "/_stop" counts every stop
// request, for indices the fake knows or not.
func (c *Cluster) HitsContaining(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for route, hits := range c.hits {
		if strings.Contains(route, s) {
			n += hits
		}
	}
	return n
}

// URL is the cluster's base URL.
func (c *Cluster) URL() string { return c.Server.URL }

// Endpoint is a resolved config endpoint pointing at the cluster.
func (c *Cluster) Endpoint() config.Endpoint {
	u, _ := url.Parse(c.Server.URL)
	return config.Endpoint{Addresses: []*url.URL{u}}
}

// Health is a _cluster/health body.
func Health(status string) string {
	return fmt.Sprintf(`{"cluster_name":"drwatch-leader","status":%q,"timed_out":false,"number_of_nodes":1,"number_of_data_nodes":1,"discovered_master":true,"discovered_cluster_manager":true,"active_primary_shards":5,"active_shards":5,"relocating_shards":0,"initializing_shards":0,"unassigned_shards":0,"delayed_unassigned_shards":0,"number_of_pending_tasks":0,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,"active_shards_percent_as_number":100.0}`, status)
}

// FollowerSettings answers the follower-index settings call for the
// fixture's indices, plus one index that is not a follower.
const FollowerSettings = `{
  "orders-1": {"settings": {"index.number_of_shards": "2", "index.plugins.replication.follower.leader_index": "leader:orders-1"}},
  "orders-2": {"settings": {"index.number_of_shards": "2", "index.plugins.replication.follower.leader_index": "leader:orders-2"}},
  "logs-1":   {"settings": {"index.number_of_shards": "1", "index.plugins.replication.follower.leader_index": "leader:logs-1"}},
  "plain":    {"settings": {"index.number_of_shards": "1"}}
}`

// SyntheticFollowerStats builds a follower_stats body in the documented
// shape for n indices idx-00000...; index i lags by i % (maxLag+1).
func SyntheticFollowerStats(n int, maxLag int64) string {
	var b strings.Builder
	b.Grow(n * 330)
	fmt.Fprintf(&b, `{"num_syncing_indices":%d,"num_bootstrapping_indices":0,"num_paused_indices":0,"num_failed_indices":0,"num_shard_tasks":%d,"num_index_tasks":%d,"operations_written":0,"operations_read":0,"failed_read_requests":0,"throttled_read_requests":0,"failed_write_requests":0,"throttled_write_requests":0,"follower_checkpoint":0,"leader_checkpoint":0,"total_write_time_millis":0,"index_stats":{`, n, n, n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		lag := int64(i) % (maxLag + 1)
		fcp := int64(1000 + i)
		fmt.Fprintf(&b, `"idx-%05d":{"operations_written":%d,"operations_read":%d,"failed_read_requests":0,"throttled_read_requests":0,"failed_write_requests":0,"throttled_write_requests":0,"follower_checkpoint":%d,"leader_checkpoint":%d,"total_write_time_millis":12}`, i, fcp, fcp, fcp, fcp+lag)
	}
	b.WriteString("}}")
	return b.String()
}

// SyntheticSettings answers the follower-index settings call for the
// indices of SyntheticFollowerStats.
func SyntheticSettings(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"idx-%05d":{"settings":{"index.number_of_shards":"1","index.plugins.replication.follower.leader_index":"leader:idx-%05d"}}`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

// Synthetic makes leader and follower a pair with n follower indices
// idx-00000... of one shard each, in the shapes of the real captures:
// follower_stats, the follower-index settings, and both sides' sequence
// numbers; index i lags by i % (maxLag+1), and the follower's view agrees.
func Synthetic(leader, follower *Cluster, n int, maxLag int64) {
	follower.Set(RouteFollowerStats, 200, SyntheticFollowerStats(n, maxLag))
	follower.Set(RouteSettingsAll, 200, SyntheticSettings(n))
	leader.mu.Lock()
	follower.mu.Lock()
	defer leader.mu.Unlock()
	defer follower.mu.Unlock()
	clear(leader.seqnos)
	clear(follower.seqnos)
	for i := range n {
		name := fmt.Sprintf("idx-%05d", i)
		fcp := int64(1000 + i)
		lcp := fcp + int64(i)%(maxLag+1)
		follower.seqnos[name] = []SeqNo{{fcp, fcp, fcp}}
		leader.seqnos[name] = []SeqNo{{lcp, lcp, lcp}}
	}
}

// ReadFixture returns a fixture file of testdata/.
func ReadFixture(name string) ([]byte, error) { return fixtures.ReadFile("testdata/" + name) }
