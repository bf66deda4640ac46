package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// answer is one HTTP answer of a lab node.
type answer struct {
	Code int
	Body []byte
}

func (a answer) ok() bool { return a.Code/100 == 2 }

func (a answer) String() string { return fmt.Sprintf("HTTP %d %s", a.Code, bytes.TrimSpace(a.Body)) }

// call sends one request, as the admin in a secured lab; a body (when not
// nil) is marshalled as JSON, an ndjson body is sent as it is.
func (l *Lab) call(ctx context.Context, method, url string, body any, timeout time.Duration) (answer, error) {
	h, err := l.http()
	if err != nil {
		return answer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case ndjson:
		r, ctype = bytes.NewReader(b), "application/x-ndjson"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return answer{}, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return answer{}, err
	}
	if r != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if h.user != "" {
		req.SetBasicAuth(h.user, h.pass)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Code: resp.StatusCode, Body: b}, nil
}

// ndjson is a body of newline-delimited JSON (the bulk API).
type ndjson []byte

// ---- answers, parsed as JSON ----

// errorInfo is the error object of an OpenSearch error answer.
type errorInfo struct {
	Type     string `json:"type"`
	Reason   string `json:"reason"`
	CausedBy *struct {
		Type string `json:"type"`
	} `json:"caused_by"`
}

// exists reports whether the error says the thing already exists (an
// autofollow rule whose task is already there answers HTTP 500 with it as
// the cause).
func (e errorInfo) exists() bool {
	const t = "resource_already_exists_exception"
	return e.Type == t || (e.CausedBy != nil && e.CausedBy.Type == t)
}

// parseError reads {"error":{"type":..,"reason":..}}; zero when the body
// has none (or is an old-style string error).
func parseError(body []byte) errorInfo {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return errorInfo{}
	}
	var info errorInfo
	if json.Unmarshal(e.Error, &info) != nil {
		var s string
		if json.Unmarshal(e.Error, &s) == nil {
			info.Reason = s
		}
	}
	return info
}

// parseRemoteConnected reads alias's "connected" from _remote/info.
func parseRemoteConnected(body []byte, alias string) (bool, error) {
	var info map[string]struct {
		Connected *bool `json:"connected"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return false, fmt.Errorf("_remote/info: %w", err)
	}
	r, ok := info[alias]
	if !ok {
		return false, nil
	}
	if r.Connected == nil {
		return false, fmt.Errorf("_remote/info: no \"connected\" for %s", alias)
	}
	return *r.Connected, nil
}

// parseHealthStatus reads "status" of _cluster/health.
func parseHealthStatus(body []byte) (string, error) {
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "", fmt.Errorf("_cluster/health: %w", err)
	}
	if h.Status == "" {
		return "", errors.New("_cluster/health: no status")
	}
	return h.Status, nil
}

// ParseReplicationStatus reads "status" of _plugins/_replication/{i}/_status.
func ParseReplicationStatus(body []byte) (string, error) {
	var s struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return "", fmt.Errorf("replication _status: %w", err)
	}
	return s.Status, nil
}

// activeReplication is whether a replication status means replication is
// set up (syncing, starting or paused).
func activeReplication(status string) bool {
	switch status {
	case "SYNCING", "BOOTSTRAPPING", "RUNNING", "PAUSED":
		return true
	}
	return false
}

// FollowerStats is the part of _plugins/_replication/follower_stats the lab
// reads.
type FollowerStats struct {
	NumSyncing         int                           `json:"num_syncing_indices"`
	FailedReadRequests int64                         `json:"failed_read_requests"`
	IndexStats         map[string]FollowerIndexStats `json:"index_stats"`
}

// FollowerIndexStats is one index of follower_stats.
type FollowerIndexStats struct {
	FollowerCheckpoint int64 `json:"follower_checkpoint"`
}

// ParseFollowerStats parses follower_stats; the counters must be there.
func ParseFollowerStats(body []byte) (FollowerStats, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return FollowerStats{}, fmt.Errorf("follower_stats: %w", err)
	}
	for _, k := range []string{"num_syncing_indices", "failed_read_requests"} {
		if _, ok := raw[k]; !ok {
			return FollowerStats{}, fmt.Errorf("follower_stats: no %s", k)
		}
	}
	var s FollowerStats
	if err := json.Unmarshal(body, &s); err != nil {
		return FollowerStats{}, fmt.Errorf("follower_stats: %w", err)
	}
	return s, nil
}

// FollowerCheckpointSum is the sum of every index's follower_checkpoint.
func (s FollowerStats) FollowerCheckpointSum() int64 {
	var n int64
	for _, v := range s.IndexStats {
		n += v.FollowerCheckpoint
	}
	return n
}

// PrimaryMaxSeqNoSum sums max_seq_no over the primary shards of a
// `_stats/docs?level=shards` answer (with or without filter_path).
func PrimaryMaxSeqNoSum(body []byte) (int64, error) {
	var st struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				Routing struct {
					Primary bool `json:"primary"`
				} `json:"routing"`
				SeqNo *struct {
					MaxSeqNo int64 `json:"max_seq_no"`
				} `json:"seq_no"`
			} `json:"shards"`
		} `json:"indices"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, fmt.Errorf("shard stats: %w", err)
	}
	var sum int64
	for name, ix := range st.Indices {
		for shard, copies := range ix.Shards {
			for _, c := range copies {
				if !c.Routing.Primary {
					continue
				}
				if c.SeqNo == nil {
					return 0, fmt.Errorf("shard stats: %s shard %s has no seq_no", name, shard)
				}
				sum += c.SeqNo.MaxSeqNo
			}
		}
	}
	return sum, nil
}

// ParseVersion reads version.number of GET /.
func ParseVersion(body []byte) (string, error) {
	var v struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", err
	}
	if v.Version.Number == "" {
		return "", errors.New("no version.number")
	}
	return v.Version.Number, nil
}

// bulkFailed reads a _bulk answer: whether any item failed.
func bulkFailed(body []byte) (bool, error) {
	var b struct {
		Errors *bool `json:"errors"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return true, fmt.Errorf("_bulk: %w", err)
	}
	if b.Errors == nil {
		return true, errors.New("_bulk: no \"errors\" in the answer")
	}
	return *b.Errors, nil
}

// ---- remote cluster, sample data, replication ----

// remoteSettings are the follower's cluster settings for the alias: proxy
// mode through proxy, or sniff mode with the given seeds.
func remoteSettings(alias, proxy string, seeds []string) map[string]any {
	p := "cluster.remote." + alias + "."
	if proxy != "" {
		return map[string]any{"persistent": map[string]any{p + "mode": "proxy", p + "proxy_address": proxy, p + "seeds": nil}}
	}
	return map[string]any{"persistent": map[string]any{p + "mode": nil, p + "proxy_address": nil, p + "seeds": seeds}}
}

func seedsOnly(alias string, seeds []string) map[string]any {
	return map[string]any{"persistent": map[string]any{"cluster.remote." + alias + ".seeds": seeds}}
}

func (l *Lab) putSettings(ctx context.Context, body any) error {
	a, err := l.call(ctx, http.MethodPut, l.cfg.URL(Follower)+"/_cluster/settings", body, 30*time.Second)
	if err != nil {
		return fmt.Errorf("setting the remote cluster failed: %w", err)
	}
	if !a.ok() {
		return fmt.Errorf("setting the remote cluster failed: %s", a)
	}
	return nil
}

// UseProxy points the follower's remote connection for the leader alias at
// addr in proxy mode (a TCP proxy that injects faults, for example).
func (l *Lab) UseProxy(ctx context.Context, addr string) error {
	l.logf("follower: remote '%s' -> proxy %s", l.cfg.Alias, addr)
	return l.putSettings(ctx, remoteSettings(l.cfg.Alias, addr, nil))
}

// UseSeeds points the follower's remote connection at the leader's
// transport address in sniff mode.
//
// The replication plugin keeps an internal repository per alias, registered
// when the alias's seeds or proxy address are set and removed when either is
// emptied: a switch from proxy to sniff in one update leaves it removed, and
// every later _start fails ("repository ... missing"). Changing the seeds
// twice more registers it again.
func (l *Lab) UseSeeds(ctx context.Context) error {
	var seeds []string
	for _, m := range l.cfg.Members(Leader) {
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", l.cfg.TransportPort(m)))
	}
	l.logf("follower: remote '%s' -> seeds %s", l.cfg.Alias, strings.Join(seeds, ","))
	if err := l.putSettings(ctx, remoteSettings(l.cfg.Alias, "", seeds)); err != nil {
		return err
	}
	if err := l.putSettings(ctx, seedsOnly(l.cfg.Alias, append(slices.Clone(seeds), fmt.Sprintf("localhost:%d", l.cfg.LeaderTransport)))); err != nil {
		return err
	}
	return l.putSettings(ctx, seedsOnly(l.cfg.Alias, seeds))
}

// RemoteConnected is the follower's own view of its connection to the
// leader alias (_remote/info).
func (l *Lab) RemoteConnected(ctx context.Context) (bool, error) {
	a, err := l.call(ctx, http.MethodGet, l.cfg.URL(Follower)+"/_remote/info", nil, 10*time.Second)
	if err != nil {
		return false, err
	}
	if !a.ok() {
		return false, fmt.Errorf("_remote/info: %s", a)
	}
	return parseRemoteConnected(a.Body, l.cfg.Alias)
}

// WaitRemoteConnected waits until the follower is connected to the leader
// alias. Remote connections are re-established lazily, so it nudges them
// with a cross-cluster search while it waits.
func (l *Lab) WaitRemoteConnected(ctx context.Context, within time.Duration) error {
	start := time.Now()
	for {
		ok, err := l.RemoteConnected(ctx)
		if ok {
			l.logf("follower: remote '%s' connected after %s", l.cfg.Alias, time.Since(start).Round(time.Second))
			return nil
		}
		if time.Since(start) >= within {
			if a, aerr := l.call(ctx, http.MethodGet, l.cfg.URL(Follower)+"/_remote/info", nil, 10*time.Second); aerr == nil {
				l.logf("follower _remote/info: %s", a)
			}
			if err == nil {
				err = errors.New("not connected")
			}
			return fmt.Errorf("follower did not connect to remote '%s' within %s: %w", l.cfg.Alias, within, err)
		}
		_, _ = l.call(ctx, http.MethodGet, l.cfg.URL(Follower)+"/"+l.cfg.Alias+":*/_search?size=0&ignore_unavailable=true&allow_no_indices=true", nil, 10*time.Second)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// sampleDocs is the bulk body of the 5 sample documents of an index.
func sampleDocs(index, kind string) (ndjson, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 1; i <= 5; i++ {
		var doc any = map[string]any{"level": "info", "message": fmt.Sprintf("sample log line %d", i), "seq": i}
		if kind == "orders" {
			doc = map[string]any{"order_id": i, "customer": fmt.Sprintf("customer-%d", i), "amount": float64(i*10) + 0.5, "index": index}
		}
		if err := enc.Encode(map[string]any{"index": map[string]any{"_id": fmt.Sprint(i)}}); err != nil {
			return nil, err
		}
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
	}
	return ndjson(b.Bytes()), nil
}

func (l *Lab) createSampleIndex(ctx context.Context, index, kind string, shards int) error {
	base := l.cfg.URL(Leader)
	if a, err := l.call(ctx, http.MethodGet, base+"/"+index, nil, 10*time.Second); err == nil && a.ok() {
		l.logf("leader: index %s exists", index)
		return nil
	}
	// a replica on clusters of several nodes: one node lost, they serve on
	replicas := min(1, l.cfg.NodeCount-1)
	a, err := l.call(ctx, http.MethodPut, base+"/"+index,
		map[string]any{"settings": map[string]any{"index": map[string]any{"number_of_shards": shards, "number_of_replicas": replicas}}}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("creating %s failed: %w", index, err)
	}
	if !a.ok() && parseError(a.Body).Type != "resource_already_exists_exception" {
		return fmt.Errorf("creating %s failed: %s", index, a)
	}
	docs, err := sampleDocs(index, kind)
	if err != nil {
		return err
	}
	if a, err = l.call(ctx, http.MethodPost, base+"/"+index+"/_bulk?refresh=true", docs, 60*time.Second); err != nil {
		return fmt.Errorf("indexing into %s failed: %w", index, err)
	}
	if failed, perr := bulkFailed(a.Body); !a.ok() || failed || perr != nil {
		return fmt.Errorf("indexing into %s failed: %s", index, a)
	}
	l.logf("leader: created %s (%d shards) with 5 docs", index, shards)
	return nil
}

func (l *Lab) replicationActive(ctx context.Context, index string) bool {
	a, err := l.call(ctx, http.MethodGet, l.cfg.URL(Follower)+"/_plugins/_replication/"+index+"/_status", nil, 10*time.Second)
	if err != nil || !a.ok() {
		return false
	}
	st, err := ParseReplicationStatus(a.Body)
	return err == nil && activeReplication(st)
}

// startBody is the body of _start for a follower index of leaderIndex
// (with use_roles in a secured lab).
func (c Config) startBody(leaderIndex string) map[string]any {
	b := map[string]any{"leader_alias": c.Alias, "leader_index": leaderIndex}
	if r := c.useRoles(); r != nil {
		b["use_roles"] = r
	}
	return b
}

// autofollowBody is the body of an autofollow rule's creation.
func (c Config) autofollowBody(name, pattern string) map[string]any {
	b := map[string]any{"leader_alias": c.Alias, "name": name, "pattern": pattern}
	if r := c.useRoles(); r != nil {
		b["use_roles"] = r
	}
	return b
}

// setupReplication replicates orders-1 and orders-2 (_start), follows
// logs-* (autofollow rule "logs") and waits until 3 indices sync.
func (l *Lab) setupReplication(ctx context.Context) error {
	f := l.cfg.URL(Follower)
	for _, idx := range []string{"orders-1", "orders-2"} {
		if l.replicationActive(ctx, idx) {
			l.logf("follower: replication of %s already active", idx)
			continue
		}
		l.logf("follower: starting replication of %s", idx)
		a, err := l.call(ctx, http.MethodPut, f+"/_plugins/_replication/"+idx+"/_start?wait_for_restore=true",
			l.cfg.startBody(idx), 180*time.Second)
		if err != nil {
			return fmt.Errorf("starting replication of %s failed: %w", idx, err)
		}
		if !a.ok() && !strings.Contains(parseError(a.Body).Reason, "already") {
			return fmt.Errorf("starting replication of %s failed: %s", idx, a)
		}
	}
	l.logf("follower: autofollow rule 'logs' for logs-*")
	a, err := l.call(ctx, http.MethodPost, f+"/_plugins/_replication/_autofollow",
		l.cfg.autofollowBody("logs", "logs-*"), 60*time.Second)
	if err != nil {
		return fmt.Errorf("creating the autofollow rule failed: %w", err)
	}
	if e := parseError(a.Body); !a.ok() && !strings.Contains(e.Reason, "already") && !e.exists() {
		return fmt.Errorf("creating the autofollow rule failed: %s", a)
	}
	start := time.Now()
	n := 0
	var last answer
	for {
		if a, err := l.call(ctx, http.MethodGet, f+"/_plugins/_replication/follower_stats", nil, 10*time.Second); err == nil && a.ok() {
			last = a
			if st, err := ParseFollowerStats(a.Body); err == nil {
				n = st.NumSyncing
			}
		}
		if n >= 3 {
			break
		}
		if time.Since(start) >= l.cfg.CCRTimeout {
			return fmt.Errorf("only %d of 3 indices syncing after %s: %s", n, l.cfg.CCRTimeout, last)
		}
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
	}
	l.logf("follower: %d indices syncing after %s", n, time.Since(start).Round(time.Second))
	return nil
}

// healthy is whether node n answers health yellow or better within a
// second, in a cluster of at least a majority of its nodes.
func (l *Lab) healthy(ctx context.Context, n Node) bool {
	a, err := l.call(ctx, http.MethodGet, fmt.Sprintf("%s/_cluster/health?wait_for_status=yellow&wait_for_nodes=%%3E%%3D%d&timeout=1s", l.cfg.URL(n), l.cfg.NodeCount/2+1), nil, 5*time.Second)
	return err == nil && a.ok()
}

// ClusterManager is the node the cluster has elected its cluster manager
// (GET _cat/cluster_manager on any of its nodes that answers).
func (l *Lab) ClusterManager(ctx context.Context, cluster Node) (Node, error) {
	var last error
	for _, m := range l.cfg.Members(cluster) {
		a, err := l.call(ctx, http.MethodGet, l.cfg.URL(m)+"/_cat/cluster_manager?format=json", nil, 5*time.Second)
		if err != nil || !a.ok() {
			last = errors.Join(err, fmt.Errorf("%s: %s", m, a))
			continue
		}
		var rows []struct {
			Node string `json:"node"`
		}
		if err := json.Unmarshal(a.Body, &rows); err != nil {
			return "", fmt.Errorf("_cat/cluster_manager: %w", err)
		}
		if len(rows) != 1 || rows[0].Node == "" {
			return "", fmt.Errorf("_cat/cluster_manager: %d rows, want one", len(rows))
		}
		return ParseNode(rows[0].Node)
	}
	return "", fmt.Errorf("no node of %s answers: %w", cluster, last)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
