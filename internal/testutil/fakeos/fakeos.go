// Package fakeos is an httptest OpenSearch for unit tests. It answers with
// fixtures whose shapes follow the replication plugin's source (see
// testdata/SOURCES.md: the plugin binary is not available to capture from)
// and with the standard OpenSearch core shapes of _cluster/health,
// _remote/info, _settings and _stats. Unknown endpoints answer the way
// OpenSearch does: 400 "no handler found for uri".
//
// The end-to-end tests use real clusters; this is for what a unit test can
// prove.
package fakeos

import (
	"embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

//go:embed testdata/*.json testdata/lab/*.json
var fixtures embed.FS

// Routes of the calls a probe makes.
const (
	RouteHealth          = "GET /_cluster/health"
	RouteRemoteInfo      = "GET /_remote/info"
	RouteFollowerStats   = "GET /_plugins/_replication/follower_stats"
	RouteAutofollowStats = "GET /_plugins/_replication/autofollow_stats"
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
}

type response struct {
	status int
	body   string
}

// New starts a fake cluster, closed when the test ends.
func New(t testing.TB) *Cluster {
	c := &Cluster{t: t, routes: map[string]response{}, handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Server.Close)
	return c
}

// NewLeader is a fake leader: green health.
func NewLeader(t testing.TB) *Cluster {
	c := New(t)
	c.Set(RouteHealth, 200, Health("green"))
	return c
}

// NewFollower is a fake follower replicating orders-1, orders-2 (two
// shards each) and logs-1 (one shard), all caught up, remote "leader"
// connected, one autofollow rule.
func NewFollower(t testing.TB) *Cluster {
	c := New(t)
	c.Fixture(RouteRemoteInfo, "remote_info_sniff_connected.json")
	c.Fixture(RouteFollowerStats, "follower_stats_running.json")
	c.Fixture(RouteAutofollowStats, "autofollow_stats.json")
	c.Set(RouteSettingsAll, 200, FollowerSettings)
	c.Set(RouteHealth, 200, Health("green"))
	return c
}

func (c *Cluster) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	c.mu.Lock()
	c.hits[route]++
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
func (c *Cluster) Fixture(route, name string) {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		c.t.Fatalf("fixture %s: %v", name, err)
	}
	c.Set(route, 200, string(b))
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
  "orders-1": {"settings": {"index.number_of_shards": "2", "index.plugins.replication.follower.leader_index": "orders-1"}},
  "orders-2": {"settings": {"index.number_of_shards": "2", "index.plugins.replication.follower.leader_index": "orders-2"}},
  "logs-1":   {"settings": {"index.number_of_shards": "1", "index.plugins.replication.follower.leader_index": "logs-1"}},
  "plain":    {"settings": {"index.number_of_shards": "1"}}
}`

// Stats is a GET {index}/_stats?level=shards body filtered to
// routing.primary and seq_no, with one started primary (and one replica)
// per checkpoint given.
func Stats(index string, checkpoints ...int64) string {
	shards := make([]string, 0, len(checkpoints))
	for i, cp := range checkpoints {
		shards = append(shards, fmt.Sprintf(`"%d":[{"routing":{"primary":true},"seq_no":{"max_seq_no":%d,"local_checkpoint":%d,"global_checkpoint":%d}},{"routing":{"primary":false},"seq_no":{"max_seq_no":0,"local_checkpoint":0,"global_checkpoint":0}}]`, i, cp, cp, cp))
	}
	return fmt.Sprintf(`{"indices":{%q:{"shards":{%s}}}}`, index, strings.Join(shards, ","))
}

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
		fmt.Fprintf(&b, `"idx-%05d":{"settings":{"index.number_of_shards":"1","index.plugins.replication.follower.leader_index":"idx-%05d"}}`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

// ReadFixture returns a fixture file of testdata/.
func ReadFixture(name string) ([]byte, error) { return fixtures.ReadFile("testdata/" + name) }
