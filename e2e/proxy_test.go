//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// tcpProxy is a toxiproxy (embedded) between two lab endpoints: cut it, or
// make it swallow traffic, to fail a link for real.
type tcpProxy struct {
	p *toxiproxy.Proxy
}

func newTCPProxy(t *testing.T, name, upstream string) *tcpProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &tcpProxy{p: p}
}

// Addr is host:port of the proxy's listener.
func (x *tcpProxy) Addr() string { return x.p.Listen }

// Cut closes the listener and every connection: new connections are refused.
func (x *tcpProxy) Cut() { x.p.Stop() }

// Restore listens again on the same address.
func (x *tcpProxy) Restore(t *testing.T) {
	t.Helper()
	if err := x.p.Start(); err != nil {
		t.Fatal(err)
	}
}

// Blackhole keeps connections open but delivers nothing (a silent
// partition): callers see timeouts, not refusals.
func (x *tcpProxy) Blackhole(t *testing.T) {
	t.Helper()
	if _, err := x.p.Toxics.AddToxicJson(strings.NewReader(`{"name":"blackhole","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`)); err != nil {
		t.Fatal(err)
	}
}

// countingProxy is an HTTP reverse proxy that counts the requests it
// forwards: the server-side count of what drwatch asks.
type countingProxy struct {
	srv *httptest.Server
	n   atomic.Int64
}

func newCountingProxy(t *testing.T, upstream string) *countingProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}
