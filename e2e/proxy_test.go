//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// Swallow black-holes the link both ways: connections stay open, nothing
// gets through, nobody is told (no reset, no close) - a firewall that
// drops packets, or a host that vanished.
func (x *tcpProxy) Swallow(t *testing.T) {
	t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		body := fmt.Sprintf(`{"name":"swallow-%s","type":"timeout","stream":%q,"attributes":{"timeout":0}}`, stream, stream)
		if _, err := x.p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
}

// Slow delays every chunk of data by d, both ways: a leader that answers,
// late.
func (x *tcpProxy) Slow(t *testing.T, d time.Duration) {
	t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		body := fmt.Sprintf(`{"name":"slow-%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`, stream, stream, d.Milliseconds()/2)
		if _, err := x.p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
}

// Heal removes every toxic: the link passes traffic again.
func (x *tcpProxy) Heal(t *testing.T) {
	t.Helper()
	x.p.Toxics.ResetToxics(t.Context())
}

// countingProxy is an HTTP reverse proxy that counts the requests it
// forwards: the server-side count of what drwatch asks. It also records
// each request's method, path and arrival time (what a test counts per
// daemon: stops, writes). An upstream it cannot reach (a killed node) is
// passed on as a dropped connection, as the node itself would show, not
// as a 502 of the proxy's own.
type countingProxy struct {
	srv *httptest.Server
	n   atomic.Int64

	mu  sync.Mutex
	log []proxied
}

// proxied is one request a countingProxy forwarded.
type proxied struct {
	Method, Path string
	At           time.Time
}

// mutating: anything but a read (lease and state writes, stops, blocks,
// deletes...).
func (p proxied) mutating() bool { return p.Method != http.MethodGet && p.Method != http.MethodHead }

func (p proxied) String() string {
	return fmt.Sprintf("%s %s %s", p.At.Format("15:04:05.000"), p.Method, p.Path)
}

func newCountingProxy(t *testing.T, upstream string) *countingProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = labTransport()
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		c.mu.Lock()
		c.log = append(c.log, proxied{Method: r.Method, Path: r.URL.Path, At: time.Now()})
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the proxy's base URL.
func (c *countingProxy) URL() string { return c.srv.URL }

// mutating returns the mutating requests forwarded so far.
func (c *countingProxy) mutating() []proxied {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []proxied
	for _, p := range c.log {
		if p.mutating() {
			out = append(out, p)
		}
	}
	return out
}

// stops counts the replication stops forwarded
// (POST /_plugins/_replication/<index>/_stop), by index.
func (c *countingProxy) stops() map[string]int {
	out := map[string]int{}
	for _, p := range c.mutating() {
		rest, ok := strings.CutPrefix(p.Path, "/_plugins/_replication/")
		if index, stop := strings.CutSuffix(rest, "/_stop"); ok && stop && p.Method == http.MethodPost {
			out[index]++
		}
	}
	return out
}

// links are the two links a fault can break, each through a TCP proxy
// when asked for: drwatch's to the leader (dpx, HTTP) and the follower's
// (fpx, its remote cluster in proxy mode, on the leader's transport).
type links struct {
	dpx, fpx *tcpProxy
}

// newLinks puts the links asked for behind proxies (the follower's put
// back on the leader's seeds at the end of the test) and returns the
// leader URL drwatch is to use ("": the leader's own).
func newLinks(t *testing.T, drwatch, follower bool) (*links, string) {
	t.Helper()
	l := &links{}
	if follower {
		l.fpx = newTCPProxy(t, "follower-leader", lab.LeaderTransport)
		useProxy(t, l.fpx.Addr())
		t.Cleanup(func() { useSeeds(t) })
		waitRemoteConnected(t, 60*time.Second)
	}
	if !drwatch {
		return l, ""
	}
	l.dpx = newTCPProxy(t, "drwatch-leader", strings.TrimPrefix(lab.LeaderURL, "http://"))
	return l, "http://" + l.dpx.Addr()
}
