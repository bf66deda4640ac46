package opensearch_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// refusedAddr is an address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// A probe of a cluster given several urls: a dead node in the list does
// not make the cluster look down (the call goes on to the next address);
// an answer, even a 503, is never asked of another node; with every node
// dead the call fails as a refusal.
func TestSeveralURLsOneDeadNode(t *testing.T) {
	var hits atomic.Int64
	status := atomic.Int64{}
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"cluster_name":"c","status":"green","number_of_nodes":3}`))
	}))
	defer srv.Close()
	dead := refusedAddr(t)
	client := func(urls ...string) *opensearch.Client {
		ep := config.Endpoint{}
		for _, s := range urls {
			u, _ := url.Parse(s)
			ep.Addresses = append(ep.Addresses, u)
		}
		c, err := opensearch.New(ep, opensearch.Options{Side: "leader", NextNode: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := client(dead, srv.URL, dead)
	for i := range 6 {
		if _, err := c.ClusterHealth(t.Context()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	status.Store(503)
	before := hits.Load()
	if _, err := c.ClusterHealth(t.Context()); opensearch.ClassOf(err) != observe.ClassHTTP5xx || hits.Load() != before+1 {
		t.Fatalf("a 503: %v, asked %d times", err, hits.Load()-before)
	}
	if _, err := client(dead, refusedAddr(t)).ClusterHealth(t.Context()); opensearch.ClassOf(err) != observe.ClassConnRefused {
		t.Fatalf("every node dead: %v", err)
	}
}
