package opensearch_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

func TestMappingsAndSettingsParse(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	c.Set("GET /orders-*/_mapping", 200, `{"orders-1":{"mappings":{"properties":{"amount":{"type":"float"}}}},"orders-2":{"mappings":{}}}`)
	m, err := cl.Mappings(ctx, []string{"orders-*"})
	if err != nil || len(m) != 2 || !strings.Contains(string(m["orders-1"]), `"float"`) || string(m["orders-2"]) != "{}" {
		t.Fatalf("mappings = %q, %v", m, err)
	}
	c.Set("GET /orders-*/_mapping", 200, `{"orders-1":{}}`)
	if _, err := cl.Mappings(ctx, []string{"orders-*"}); opensearch.ClassOf(err) != observe.ClassMalformed || !strings.Contains(err.Error(), "orders-1 has no mappings") {
		t.Fatalf("an index without mappings: %v", err)
	}
	c.Set("GET /orders-*/_mapping", 200, `[1,2]`)
	if _, err := cl.Mappings(ctx, []string{"orders-*"}); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("not an object: %v", err)
	}

	c.Set("GET /orders-*/_settings", 200, `{"orders-1":{"settings":{"index.number_of_shards":"2","index.analysis.filter.f.stopwords":["a","b"]}}}`)
	s, err := cl.IndexSettings(ctx, []string{"orders-*"})
	if err != nil || s["orders-1"]["index.number_of_shards"] != "2" || len(s["orders-1"]["index.analysis.filter.f.stopwords"].([]any)) != 2 {
		t.Fatalf("settings = %v, %v", s, err)
	}
	c.Set("GET /orders-*/_settings", 200, `{"orders-1":{"settings":null}}`)
	if _, err := cl.IndexSettings(ctx, []string{"orders-*"}); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("null settings: %v", err)
	}
	c.Set("GET /orders-*/_settings", 403, `{"error":{"type":"security_exception","reason":"no permissions for [indices:monitor/settings/get]"},"status":403}`)
	if _, err := cl.IndexSettings(ctx, []string{"orders-*"}); opensearch.ClassOf(err) != observe.ClassAuth {
		t.Fatalf("403: %v", err)
	}
}

func TestDocCounts(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	var sent string
	c.Handle("POST /orders-1,orders-2/_search", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sent = string(b)
		if r.URL.Query().Get("filter_path") == "" || r.URL.Query().Get("ignore_unavailable") != "true" {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		_, _ = w.Write([]byte(`{"_shards":{"total":4,"successful":4,"skipped":0,"failed":0},"aggregations":{"idx":{"buckets":[{"key":"orders-1","doc_count":20}]}}}`))
	})
	n, err := cl.DocCounts(ctx, []string{"orders-1", "orders-2"}, 2)
	if err != nil || n["orders-1"] != 20 || len(n) != 1 {
		t.Fatalf("counts = %v, %v", n, err)
	}
	if !strings.Contains(sent, `"field":"_index"`) || !strings.Contains(sent, `"size":12`) {
		t.Errorf("search body %s", sent)
	}
	for body, want := range map[string]string{
		`{"_shards":{"total":4,"successful":3,"failed":1},"aggregations":{"idx":{"buckets":[]}}}`: "failed on 1 of 4 shards",
		`{"aggregations":{"idx":{"buckets":[]}}}`:                                                 "no _shards",
		`{"_shards":{"total":4,"failed":0}}`:                                                      "no aggregations",
		`{"_shards":{"total":4,"failed":0},"aggregations":{"idx":{"buckets":[{"key":"x"}]}}}`:     "without key or doc_count",
	} {
		c.Set("POST /orders-1/_search", 200, body)
		if _, err := cl.DocCounts(ctx, []string{"orders-1"}, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	c.Set("POST /none-*/_search", 200, `{"_shards":{"total":0,"successful":0,"skipped":0,"failed":0}}`)
	if n, err := cl.DocCounts(ctx, []string{"none-*"}, 0); err != nil || len(n) != 0 {
		t.Fatalf("no index matched: %v, %v", n, err)
	}
}

func TestReplicationStatusOfCaptured(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	c.Fixture("GET /_plugins/_replication/orders-2/_status", "lab/status_paused.json")
	st, err := cl.ReplicationStatusOf(ctx, "orders-2")
	if err != nil || st.Status != "PAUSED" || st.Reason != "User initiated" || st.LeaderIndex != "orders-2" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	c.Set("GET /_plugins/_replication/orders-2/_status", 200, `{"reason":"x"}`)
	if _, err := cl.ReplicationStatusOf(ctx, "orders-2"); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("no status: %v", err)
	}
}

func TestAuthinfo(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	// The lab's answer: no security plugin, no handler (HTTP 400).
	c.Set("GET /_plugins/_security/authinfo", 400, `{"error":"no handler found for uri [/_plugins/_security/authinfo] and method [GET]"}`)
	a, err := cl.Authinfo(ctx)
	if err != nil || a.Security {
		t.Fatalf("without the security plugin: %+v, %v", a, err)
	}
	// The security plugin's shape (its documentation; the lab runs
	// without the plugin).
	c.Set("GET /_plugins/_security/authinfo", 200, `{"user":"User [name=drwatch, backend_roles=[ops], requestedTenant=null]","user_name":"drwatch","user_requested_tenant":null,"remote_address":"127.0.0.1:50000","backend_roles":["ops"],"custom_attribute_names":[],"roles":["drwatch_role","own_index"],"tenants":{"drwatch":true},"principal":null,"peer_certificates":"0","sso_logout_url":null}`)
	a, err = cl.Authinfo(ctx)
	if err != nil || !a.Security || a.User != "drwatch" || len(a.Roles) != 2 || a.BackendRoles[0] != "ops" {
		t.Fatalf("with the security plugin: %+v, %v", a, err)
	}
	c.Set("GET /_plugins/_security/authinfo", 401, `Unauthorized`)
	if _, err := cl.Authinfo(ctx); opensearch.ClassOf(err) != observe.ClassAuth || !strings.Contains(err.Error(), "requires authentication: set username and password_file") {
		t.Fatalf("401: %v", err)
	}
	c.Set("GET /_plugins/_security/authinfo", 200, `{"roles":[]}`)
	if _, err := cl.Authinfo(ctx); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("no user_name: %v", err)
	}
}

func TestReachRemote(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	c.Set("GET /leader:orders-*/_search", 200, `{"took":1,"hits":{"hits":[]}}`)
	if err := cl.ReachRemote(ctx, "leader", "orders-*"); err != nil {
		t.Fatal(err)
	}
	c.Set("GET /dead:orders-*/_search", 500, `{"error":{"type":"connect_transport_exception","reason":"[][127.0.0.1:1] connect_exception"},"status":500}`)
	err := cl.ReachRemote(ctx, "dead", "orders-*")
	var e *opensearch.Error
	if !errors.As(err, &e) || e.Type != "connect_transport_exception" || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("dead seeds: %v", err)
	}
	if err := cl.ReachRemote(ctx, "a:b", "x"); err == nil {
		t.Fatal("an alias with a colon was sent")
	}
}
