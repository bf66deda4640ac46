package opensearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// notInProgress is the plugin's real answer to _stop of an index that is
// not replicating.
const notInProgress = `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"No replication in progress for index:orders-1"}],"type":"illegal_argument_exception","reason":"No replication in progress for index:orders-1"},"status":400}`

const stopRoute = "POST /_plugins/_replication/orders-1/_stop"

// maxRequestLine is OpenSearch's default http.max_initial_line_length.
const maxRequestLine = 4096

type seen struct {
	Method      string
	Path        string // decoded
	EscapedPath string
	RequestURI  string
	Query       url.Values
	ContentType string
	Body        string
}

// recorder is an HTTP server that records every request and hands it on.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// serve starts a recording server in front of next and returns a client for it.
func serve(t *testing.T, opts opensearch.Options, next http.Handler) (*opensearch.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{
			Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), RequestURI: r.RequestURI,
			Query: r.URL.Query(), ContentType: r.Header.Get("Content-Type"), Body: string(b),
		})
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// serveFake puts a recorder in front of a fakeos cluster.
func serveFake(t *testing.T, opts opensearch.Options) (*opensearch.Client, *fakeos.Cluster, *recorder) {
	t.Helper()
	fc := fakeos.New(t)
	c, rec := serve(t, opts, fc.Server.Config.Handler)
	return c, fc, rec
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStopReplicationRequest(t *testing.T) {
	c, fc, rec := serveFake(t, opensearch.Options{})
	fc.Set(stopRoute, 200, `{"acknowledged":true}`)
	if err := c.StopReplication(ctx(t), "orders-1"); err != nil {
		t.Fatalf("StopReplication: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/_plugins/_replication/orders-1/_stop" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	if r.Body != "{}" {
		t.Fatalf("body %q, want {} (required on 2.19)", r.Body)
	}
	if r.ContentType != "application/json" {
		t.Fatalf("Content-Type %q", r.ContentType)
	}
	if fc.Hits(stopRoute) != 1 || c.Requests() != 1 {
		t.Fatalf("hits %d, requests %d", fc.Hits(stopRoute), c.Requests())
	}
}

func TestStopReplicationNotInProgress(t *testing.T) {
	c, fc, _ := serveFake(t, opensearch.Options{})
	fc.Set(stopRoute, 400, notInProgress)
	err := c.StopReplication(ctx(t), "orders-1")
	if !errors.Is(err, opensearch.ErrNotReplicating) {
		t.Fatalf("err = %v, want ErrNotReplicating", err)
	}
	e, ok := opensearch.AsError(err)
	if !ok {
		t.Fatalf("err is not an *opensearch.Error: %v", err)
	}
	if e.Status != 400 || e.Class != observe.ClassHTTP4xx || e.Type != "illegal_argument_exception" || !strings.Contains(e.Detail, "orders-1") {
		t.Fatalf("error = %+v", e)
	}
	if opensearch.ClassOf(err) != observe.ClassHTTP4xx {
		t.Fatalf("ClassOf = %q", opensearch.ClassOf(err))
	}
}

// The transport retries 502/503/504: a stop that happened but whose answer
// was lost comes back from the retry as "No replication in progress".
func TestStopReplicationRetriedIntoNotInProgress(t *testing.T) {
	var mu sync.Mutex
	n := 0
	c, rec := serve(t, opensearch.Options{Retry: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first {
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = w.Write([]byte(`{"error":"gateway timeout"}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(notInProgress))
	}))
	err := c.StopReplication(ctx(t), "orders-1")
	if !errors.Is(err, opensearch.ErrNotReplicating) {
		t.Fatalf("err = %v, want ErrNotReplicating", err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (one retry)", len(reqs))
	}
	for i, r := range reqs {
		if r.Body != "{}" || r.ContentType != "application/json" {
			t.Fatalf("attempt %d: body %q, Content-Type %q", i+1, r.Body, r.ContentType)
		}
	}
}

func TestStopReplicationOtherErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string // "" = route unset: fakeos answers like a missing plugin
		class  observe.Class
	}{
		"other illegal_argument": {400, `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Index orders-1 is not a follower"}],"type":"illegal_argument_exception","reason":"Index orders-1 is not a follower"},"status":400}`, observe.ClassHTTP4xx},
		"validation":             {400, `{"error":{"type":"validation_exception","reason":"Validation Failed: 1: request body is required;"},"status":400}`, observe.ClassHTTP4xx},
		"no such index":          {404, `{"error":{"type":"index_not_found_exception","reason":"no such index [orders-1]"},"status":404}`, observe.ClassHTTP4xx},
		"forbidden":              {403, `{"error":{"type":"security_exception","reason":"no permissions"},"status":403}`, observe.ClassAuth},
		"500":                    {500, `{"error":{"type":"replication_exception","reason":"failed to stop replication"},"status":500}`, observe.ClassHTTP5xx},
		// Only the 400 means "already done", even if a 500's text says the same.
		"500 with the same words": {500, strings.ReplaceAll(notInProgress, `"status":400`, `"status":500`), observe.ClassHTTP5xx},
		"plugin missing":          {0, "", observe.ClassPluginMissing},
		"400 without a body":      {400, "", observe.ClassHTTP4xx},
	} {
		t.Run(name, func(t *testing.T) {
			c, fc, _ := serveFake(t, opensearch.Options{})
			if tc.status != 0 {
				fc.Set(stopRoute, tc.status, tc.body)
			}
			err := c.StopReplication(ctx(t), "orders-1")
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, opensearch.ErrNotReplicating) {
				t.Fatalf("%v is not 'no replication in progress'", err)
			}
			if got := opensearch.ClassOf(err); got != tc.class {
				t.Fatalf("class %q, want %q (%v)", got, tc.class, err)
			}
			if e, _ := opensearch.AsError(err); tc.status != 0 && e.Status != tc.status {
				t.Fatalf("status %d, want %d", e.Status, tc.status)
			}
		})
	}
}

func TestStopReplicationUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.StopReplication(ctx(t), "orders-1")
	if err == nil || errors.Is(err, opensearch.ErrNotReplicating) || opensearch.ClassOf(err) != observe.ClassConnRefused {
		t.Fatalf("err = %v (class %q)", err, opensearch.ClassOf(err))
	}
}

func longNames(n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("logs-application-%05d", i)
	}
	// Names that need escaping count by their escaped length.
	out = append(out, "café-été", "ünïcødé-ïndex")
	return out
}

func checkChunks(t *testing.T, reqs []seen, method, prefix, suffix string, want []string) {
	t.Helper()
	if len(reqs) < 2 {
		t.Fatalf("%d requests for %d names: not chunked", len(reqs), len(want))
	}
	var got []string
	for _, r := range reqs {
		if r.Method != method {
			t.Fatalf("method %s, want %s", r.Method, method)
		}
		if !strings.HasPrefix(r.Path, prefix) {
			t.Fatalf("path %q does not start with %q", r.Path, prefix)
		}
		if n := len(r.EscapedPath); n > 3200 {
			t.Fatalf("path of %d bytes, want under ~3 KB", n)
		}
		if line := len(method) + 1 + len(r.RequestURI) + len(" HTTP/1.1"); line >= maxRequestLine {
			t.Fatalf("request line of %d bytes: OpenSearch rejects lines over %d", line, maxRequestLine)
		}
		if !strings.HasSuffix(r.Path, suffix) {
			t.Fatalf("path %q does not end with %q", r.Path, suffix)
		}
		got = append(got, strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.Path, prefix), suffix), ",")...)
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("names sent (%d) differ from names asked (%d)", len(got), len(w))
	}
}

func ack(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"acknowledged":true,"shards_acknowledged":true,"indices":[]}`))
}

func TestBlockWriteChunks(t *testing.T) {
	c, rec := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ack(w) }))
	names := longNames(3000)
	if err := c.BlockWrite(ctx(t), names); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	checkChunks(t, reqs, http.MethodPut, "/", "/_block/write", names)
	for _, r := range reqs {
		if r.Query.Get("ignore_unavailable") != "true" {
			t.Fatalf("query %v", r.Query)
		}
	}
	if !slices.ContainsFunc(reqs, func(r seen) bool { return strings.Contains(r.EscapedPath, "caf%C3%A9-%C3%A9t%C3%A9") }) {
		t.Fatal("non-ASCII name not escaped")
	}
}

func TestBlockWriteSmallAndEmpty(t *testing.T) {
	c, fc, rec := serveFake(t, opensearch.Options{})
	fc.Set("PUT /orders-1,orders-2/_block/write", 200, `{"acknowledged":true,"shards_acknowledged":true,"indices":[{"name":"orders-1","blocked":true},{"name":"orders-2","blocked":true}]}`)
	if err := c.BlockWrite(ctx(t), []string{"orders-1", "orders-2"}); err != nil {
		t.Fatal(err)
	}
	if fc.Hits("PUT /orders-1,orders-2/_block/write") != 1 {
		t.Fatalf("requests: %+v", rec.all())
	}
	if err := c.BlockWrite(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 1 {
		t.Fatalf("an empty list made %d requests", n-1)
	}
}

func TestBlockWriteStopsAtFirstFailure(t *testing.T) {
	var mu sync.Mutex
	n := 0
	c, rec := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 2 {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"type":"security_exception","reason":"no permissions for [indices:admin/block/add]"},"status":403}`))
			return
		}
		ack(w)
	}))
	err := c.BlockWrite(ctx(t), longNames(3000))
	if opensearch.ClassOf(err) != observe.ClassAuth {
		t.Fatalf("err = %v", err)
	}
	if got := len(rec.all()); got != 2 {
		t.Fatalf("%d requests after the failure, want 2", got)
	}
}

const clusterStateBody = `{
  "metadata": {"indices": {
    "orders-1": {"state": "open"},
    "orders-2": {"state": "close"},
    "orders-3": {"state": "open"}
  }},
  "blocks": {"indices": {
    "orders-1": {"1000": {"description": "index read-only (cross-cluster-replication)", "retryable": false, "levels": ["write", "metadata_write"]}},
    "orders-2": {"4": {"description": "index closed", "retryable": false, "levels": ["read", "write"]}}
  }}
}`

func TestIndexStates(t *testing.T) {
	c, fc, rec := serveFake(t, opensearch.Options{})
	route := "GET /_cluster/state/metadata,blocks/orders-1,orders-2,orders-3,gone"
	fc.Set(route, 200, clusterStateBody)
	got, err := c.IndexStates(ctx(t), []string{"orders-1", "orders-2", "orders-3", "gone"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]opensearch.IndexState{
		"orders-1": {Exists: true, Open: true, Blocks: []opensearch.Block{{ID: "1000", Description: "index read-only (cross-cluster-replication)"}}},
		"orders-2": {Exists: true, Open: false, Blocks: []opensearch.Block{{ID: "4", Description: "index closed"}}},
		"orders-3": {Exists: true, Open: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("IndexStates = %+v\nwant %+v", got, want)
	}
	if st := got["gone"]; st.Exists {
		t.Fatal("a missing index exists")
	}
	if b, ok := got["orders-1"].ReplicationBlock(); !ok || b.ID != opensearch.ReplicationBlockID {
		t.Fatalf("orders-1's replication block not found: %+v", got["orders-1"].Blocks)
	}
	if b, ok := got["orders-2"].ReplicationBlock(); ok {
		t.Fatalf("orders-2 (closed, no replication block) has one: %+v", b)
	}
	renumbered := opensearch.IndexState{Blocks: []opensearch.Block{{ID: "4", Description: "index closed"}, {ID: "1001", Description: "index read-only(cross-cluster-replication)"}}}
	if b, ok := renumbered.ReplicationBlock(); !ok || b.ID != "1001" {
		t.Fatalf("the plugin's block under another id was missed: %+v", b)
	}
	if fc.Hits(route) != 1 {
		t.Fatalf("hits %d", fc.Hits(route))
	}
	q := rec.all()[0].Query
	if q.Get("ignore_unavailable") != "true" || q.Get("expand_wildcards") != "open,closed" ||
		!strings.Contains(q.Get("filter_path"), "metadata.indices.*.state") || !strings.Contains(q.Get("filter_path"), "blocks.indices") {
		t.Fatalf("query %v", q)
	}
}

func TestIndexStatesMalformed(t *testing.T) {
	c, fc, _ := serveFake(t, opensearch.Options{})
	fc.Set("GET /_cluster/state/metadata,blocks/orders-1", 200, `{"metadata":{"indices":{"orders-1":{"state":1}}}}`)
	if _, err := c.IndexStates(ctx(t), []string{"orders-1"}); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("err = %v", err)
	}
	fc.Set("GET /_cluster/state/metadata,blocks/orders-1", 500, `{"error":{"type":"x","reason":"y"},"status":500}`)
	if _, err := c.IndexStates(ctx(t), []string{"orders-1"}); opensearch.ClassOf(err) != observe.ClassHTTP5xx {
		t.Fatalf("err = %v", err)
	}
}

// namesHandler answers each chunked request with a body built from its names.
func namesHandler(t *testing.T, prefix, suffix string, body func(names []string) any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), suffix)
		b, err := json.Marshal(body(strings.Split(p, ",")))
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

func TestIndexStatesChunks(t *testing.T) {
	c, rec := serve(t, opensearch.Options{}, namesHandler(t, "/_cluster/state/metadata,blocks/", "", func(names []string) any {
		md := map[string]any{}
		for _, n := range names {
			md[n] = map[string]string{"state": "open"}
		}
		return map[string]any{"metadata": map[string]any{"indices": md}}
	}))
	names := longNames(2500)
	got, err := c.IndexStates(ctx(t), names)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(names) {
		t.Fatalf("%d states for %d names", len(got), len(names))
	}
	for _, n := range names {
		if st := got[n]; !st.Exists || !st.Open {
			t.Fatalf("%s: %+v", n, st)
		}
	}
	checkChunks(t, rec.all(), http.MethodGet, "/_cluster/state/metadata,blocks/", "", names)
}

// Verification asks for every planned index by name: thousands of names
// must not make one request line longer than OpenSearch accepts.
func TestFollowerIndicesChunks(t *testing.T) {
	suffix := "/_settings/" + opensearch.LeaderIndexSetting + ",index.number_of_shards"
	c, rec := serve(t, opensearch.Options{}, namesHandler(t, "/", suffix, func(names []string) any {
		out := map[string]any{}
		for _, n := range names {
			out[n] = map[string]any{"settings": map[string]string{"index.number_of_shards": "1", opensearch.LeaderIndexSetting: "leader:" + n}}
		}
		return out
	}))
	names := longNames(2500)
	got, err := c.FollowerIndices(ctx(t), names)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(names) || got[names[7]].LeaderIndex != names[7] || got[names[7]].LeaderAlias != "leader" || got[names[7]].Shards != 1 {
		t.Fatalf("%d followers for %d names (%+v)", len(got), len(names), got[names[7]])
	}
	checkChunks(t, rec.all(), http.MethodGet, "/", suffix, names)

	// A few patterns stay one request.
	c2, fc, _ := serveFake(t, opensearch.Options{})
	fc.Set(fakeos.RouteSettingsAll, 200, fakeos.FollowerSettings)
	fis, err := c2.FollowerIndices(ctx(t), []string{"*"})
	if err != nil || len(fis) != 3 || fis["orders-2"].Shards != 2 || fc.Hits(fakeos.RouteSettingsAll) != 1 {
		t.Fatalf("FollowerIndices(*) = %+v, %v", fis, err)
	}
}

// Index names that fit one request line are read in one request; more
// are read as _all in one request, keeping only the names asked for.
func TestShardSeqNosOneRequest(t *testing.T) {
	var paths []string
	c, _ := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		_, _ = w.Write([]byte(`{"indices":{"a":{"shards":{"0":[{"routing":{"state":"STARTED","primary":true},"seq_no":{"max_seq_no":9,"local_checkpoint":8,"global_checkpoint":7}}]}},"other":{"shards":{}}}}`))
	}))
	got, err := c.ShardSeqNos(ctx(t), []string{"a", "b"})
	if err != nil || got["a"][0] != (opensearch.ShardSeqNo{MaxSeqNo: 9, LocalCheckpoint: 8, GlobalCheckpoint: 7}) {
		t.Fatalf("ShardSeqNos = %+v, %v", got, err)
	}
	names := append(longNames(2500), "a")
	got, err = c.ShardSeqNos(ctx(t), names)
	if err != nil || len(got) != 1 || got["a"][0].MaxSeqNo != 9 {
		t.Fatalf("ShardSeqNos(2501 names) = %+v, %v", got, err)
	}
	if len(paths) != 2 || paths[0] != "/a,b/_stats/docs" || paths[1] != "/_all/_stats/docs" {
		t.Fatalf("requests %v, want one per call, the long one as _all", paths)
	}
}

// Only started primaries count; a started primary without its sequence
// numbers is a malformed answer, never a checkpoint of 0.
func TestShardSeqNosPrimariesOnly(t *testing.T) {
	for name, tc := range map[string]struct {
		body      string
		malformed bool
		shards    int
	}{
		"replica and initializing primary ignored": {body: `{"indices":{"a":{"shards":{"0":[{"routing":{"state":"STARTED","primary":false},"seq_no":{"max_seq_no":1,"local_checkpoint":1,"global_checkpoint":1}}],"1":[{"routing":{"state":"INITIALIZING","primary":true}}]}}}}`},
		"started primary without seq_no":           {body: `{"indices":{"a":{"shards":{"0":[{"routing":{"state":"STARTED","primary":true}}]}}}}`, malformed: true},
		"null max_seq_no":                          {body: `{"indices":{"a":{"shards":{"0":[{"routing":{"state":"STARTED","primary":true},"seq_no":{"max_seq_no":null,"local_checkpoint":1,"global_checkpoint":1}}]}}}}`, malformed: true},
		"shard id not a number":                    {body: `{"indices":{"a":{"shards":{"x":[{"routing":{"state":"STARTED","primary":true},"seq_no":{"max_seq_no":1,"local_checkpoint":1,"global_checkpoint":1}}]}}}}`, malformed: true},
		"not JSON":                                 {body: `<html>`, malformed: true},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(tc.body)) }))
			got, err := c.ShardSeqNos(ctx(t), []string{"a"})
			if tc.malformed {
				if opensearch.ClassOf(err) != observe.ClassMalformed {
					t.Fatalf("err = %v, want malformed_response", err)
				}
				return
			}
			if err != nil || len(got["a"]) != tc.shards {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestShardLag(t *testing.T) {
	l := opensearch.IndexSeqNos{0: {MaxSeqNo: 10}, 1: {MaxSeqNo: 20}}
	for name, tc := range map[string]struct {
		f      opensearch.IndexSeqNos
		shards int
		lag    int64
		ok     bool
	}{
		"caught up":                 {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: 10}, 1: {LocalCheckpoint: 20}}, shards: 2, ok: true},
		"behind on one shard":       {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: 4}, 1: {LocalCheckpoint: 20}}, shards: 2, lag: 6, ok: true},
		"ahead on one never hides":  {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: 15}, 1: {LocalCheckpoint: 18}}, shards: 2, lag: 2, ok: true},
		"follower shard missing":    {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: 10}}, shards: 2},
		"shard count above both":    {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: 10}, 1: {LocalCheckpoint: 20}}, shards: 3},
		"no shards":                 {f: opensearch.IndexSeqNos{}, shards: 0},
		"empty shards read -1 each": {f: opensearch.IndexSeqNos{0: {LocalCheckpoint: -1}, 1: {LocalCheckpoint: -1}}, shards: 2, lag: 32, ok: true},
	} {
		t.Run(name, func(t *testing.T) {
			lag, _, _, ok := opensearch.ShardLag(l, tc.f, tc.shards)
			if ok != tc.ok || lag != tc.lag {
				t.Fatalf("lag %d ok %v, want %d %v", lag, ok, tc.lag, tc.ok)
			}
		})
	}
}

// The plugin writes "<alias>:<index>"; anything else is malformed, and
// null (what _stop leaves, captured in the lab) is not a follower.
func TestFollowerIndicesLeaderSettingValues(t *testing.T) {
	for value, want := range map[string]string{
		`"leader:orders-1"`: "ok",
		`null`:              "plain",
		`"orders-1"`:        "malformed",
		`":orders-1"`:       "malformed",
		`"leader:"`:         "malformed",
	} {
		c, fc, _ := serveFake(t, opensearch.Options{})
		fc.Set(fakeos.RouteSettingsAll, 200, `{"orders-1":{"settings":{"index.number_of_shards":"1","index.plugins.replication.follower.leader_index":`+value+`}}}`)
		fis, err := c.FollowerIndices(ctx(t), []string{"*"})
		switch want {
		case "ok":
			if err != nil || fis["orders-1"] != (opensearch.FollowerIndex{LeaderAlias: "leader", LeaderIndex: "orders-1", Shards: 1}) {
				t.Errorf("%s: %+v, %v", value, fis, err)
			}
		case "plain":
			if err != nil || len(fis) != 0 {
				t.Errorf("%s: %+v, %v", value, fis, err)
			}
		default:
			if opensearch.ClassOf(err) != observe.ClassMalformed {
				t.Errorf("%s: %v, want malformed_response", value, err)
			}
		}
	}
}

func TestDeleteAutofollow(t *testing.T) {
	const route = "DELETE /_plugins/_replication/_autofollow"
	c, fc, rec := serveFake(t, opensearch.Options{})
	fc.Set(route, 200, `{"acknowledged":true}`)
	if err := c.DeleteAutofollow(ctx(t), "leader", "orders-rule"); err != nil {
		t.Fatal(err)
	}
	r := rec.all()[0]
	if r.Method != http.MethodDelete || r.Path != "/_plugins/_replication/_autofollow" || r.ContentType != "application/json" {
		t.Fatalf("request %s %s (%s)", r.Method, r.Path, r.ContentType)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	if want := map[string]any{"leader_alias": "leader", "name": "orders-rule"}; !reflect.DeepEqual(body, want) {
		t.Fatalf("body %v, want exactly %v (no pattern)", body, want)
	}

	// An unknown rule is an HTTP 500 from the plugin.
	fc.Set(route, 500, `{"error":{"root_cause":[{"type":"replication_exception","reason":"Failed to delete autofollow rule"}],"type":"replication_exception","reason":"Failed to delete autofollow rule"},"status":500}`)
	err := c.DeleteAutofollow(ctx(t), "leader", "nope")
	if opensearch.ClassOf(err) != observe.ClassHTTP5xx || errors.Is(err, opensearch.ErrNotReplicating) {
		t.Fatalf("err = %v", err)
	}
}

// A follower_stats index entry with a missing or null checkpoint, or no
// index_stats at all, is malformed - never read as lag 0.
func TestParseFollowerStatsRejectsMissingCheckpoints(t *testing.T) {
	for name, body := range map[string]string{
		"null leader checkpoint":      `{"num_syncing_indices":1,"index_stats":{"orders":{"leader_checkpoint":null,"follower_checkpoint":7}}}`,
		"missing leader checkpoint":   `{"num_syncing_indices":1,"index_stats":{"orders":{"follower_checkpoint":7}}}`,
		"missing follower checkpoint": `{"num_syncing_indices":1,"index_stats":{"orders":{"leader_checkpoint":7}}}`,
		"no index_stats":              `{"num_syncing_indices":0}`,
		"index_stats null":            `{"num_syncing_indices":0,"index_stats":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := opensearch.ParseFollowerStats([]byte(body)); opensearch.ClassOf(err) != observe.ClassMalformed {
				t.Fatalf("err = %v, want malformed_response", err)
			}
		})
	}
	fs, err := opensearch.ParseFollowerStats([]byte(`{"num_syncing_indices":1,"index_stats":{"orders":{"leader_checkpoint":-1,"follower_checkpoint":-1}}}`))
	if err != nil || fs.IndexStats["orders"].LeaderCheckpoint != -1 {
		t.Fatalf("an empty index (-1/-1) is valid: %+v %v", fs, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// An answer over MaxBodyBytes is a malformed answer, bounded while it is
// read: refused before a byte is read when its length is declared, cut off
// one byte past the bound when it is not (chunked).
func TestOversizeAnswerIsMalformed(t *testing.T) {
	for name, declared := range map[string]bool{"declared length": true, "chunked": false} {
		t.Run(name, func(t *testing.T) {
			c, _ := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(opensearch.MaxBodyBytes+1))
				}
				_, _ = io.CopyN(w, zeros{}, opensearch.MaxBodyBytes+1)
			}))
			_, err := c.ClusterHealth(ctx(t))
			if e, ok := opensearch.AsError(err); !ok || e.Class != observe.ClassMalformed || !strings.Contains(e.Detail, "larger than 64 MiB") {
				t.Fatalf("err = %v, want malformed_response: larger than 64 MiB", err)
			}
		})
	}
}

// Detaching an alias points it at the refused loopback address in proxy
// mode and clears its other settings, persistent and transient, in one
// update.
func TestDetachRemoteCluster(t *testing.T) {
	c, rec := serve(t, opensearch.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"acknowledged":true,"persistent":{},"transient":{}}`))
	}))
	if err := c.DetachRemoteCluster(context.Background(), "leader", []string{"cluster.remote.leader.seeds", "cluster.remote.leader.skip_unavailable"}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPut || reqs[0].Path != "/_cluster/settings" {
		t.Fatalf("requests = %+v", reqs)
	}
	var body struct {
		Persistent map[string]any `json:"persistent"`
		Transient  map[string]any `json:"transient"`
	}
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"cluster.remote.leader.mode": "proxy", "cluster.remote.leader.proxy_address": "127.0.0.1:1",
		"cluster.remote.leader.seeds": nil, "cluster.remote.leader.skip_unavailable": nil}
	if !reflect.DeepEqual(body.Persistent, want) || len(body.Transient) != 2 || body.Transient["cluster.remote.leader.seeds"] != nil {
		t.Fatalf("body = %s", reqs[0].Body)
	}
}
