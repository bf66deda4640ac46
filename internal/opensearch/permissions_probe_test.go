package opensearch_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The permission checks change nothing: every request that is no GET
// names only a name no index has (the tag), never an index of the scope
// nor the lease index (which may be an alias).
func TestPermissionChecksWriteOnlyOnFreeNames(t *testing.T) {
	type req struct{ method, path, query, body string }
	var mu sync.Mutex
	var seen []req
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, req{r.Method, r.URL.Path, r.URL.RawQuery, string(b)})
		mu.Unlock()
		w.WriteHeader(404) // no such index: every name is free
		_, _ = w.Write([]byte(`{"error":{"type":"index_not_found_exception","reason":"no such index"},"status":404}`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{Side: "follower"})
	if err != nil {
		t.Fatal(err)
	}
	pr := opensearch.Probe{Scope: []string{"orders-*", "-orders-old"}, Alias: "leader", HAIndex: ".drwatch-ha"}
	checks := c.CheckPermissions(t.Context(), opensearch.SideFollower, pr)
	if len(checks) != len(opensearch.PermissionsOf(opensearch.SideFollower)) {
		t.Fatalf("%d checks for %d permissions", len(checks), len(opensearch.PermissionsOf(opensearch.SideFollower)))
	}
	writes := 0
	for _, r := range seen {
		if r.method == http.MethodGet {
			continue
		}
		writes++
		all := r.path + "?" + r.query + " " + r.body
		if !strings.Contains(all, "drwatch-permission-check-") {
			t.Errorf("%s %s?%s %s: no free name in it", r.method, r.path, r.query, r.body)
		}
		if strings.HasPrefix(r.path, "/.drwatch-ha/") || r.path == "/.drwatch-ha" {
			t.Errorf("%s %s: through the lease index", r.method, r.path)
		}
		if strings.HasPrefix(r.path, "/.drwatch-ha-") && r.method == http.MethodPut && strings.Contains(r.path, "/_doc/") && r.query != "require_alias=true" {
			t.Errorf("%s %s?%s: a document write without require_alias", r.method, r.path, r.query)
		}
	}
	if writes < 8 {
		t.Fatalf("only %d requests that are no GET: %+v", writes, seen)
	}
	for _, pc := range checks {
		if !pc.Allowed && pc.Untried == "" && !pc.Off {
			t.Errorf("%s: %v", pc.Permission.Action, pc.Err)
		}
	}
}
