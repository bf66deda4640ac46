package hooks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/config"
)

// receiver is an HTTP receiver for the integrations' tests: it answers
// each request with the next of its answers, then with ok, and records
// every request.
type receiver struct {
	*httptest.Server
	ok answer

	mu      sync.Mutex
	answers []answer
	reqs    []request
}

type answer struct {
	status int
	header map[string]string
	body   string
	// echo answers with everything the request carried (its path,
	// headers and body), as a careless receiver quoting a bad request
	// does: a credential in it must not reach a log line.
	echo bool
}

type request struct {
	at      time.Time
	method  string
	path    string // decoded
	escaped string // as sent
	query   string
	header  http.Header
	body    []byte
}

func newReceiver(t *testing.T, ok answer, answers ...answer) *receiver {
	t.Helper()
	r := &receiver{ok: ok, answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, request{at: time.Now(), method: req.Method, path: req.URL.Path, escaped: req.URL.EscapedPath(),
		query: req.URL.RawQuery, header: req.Header.Clone(), body: body})
	a := r.ok
	if len(r.answers) > 0 {
		a, r.answers = r.answers[0], r.answers[1:]
	}
	r.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	if a.echo {
		fmt.Fprintf(w, "bad request %s %s %v %s", req.Method, req.URL.RequestURI(), req.Header, body)
		return
	}
	_, _ = io.WriteString(w, a.body)
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// waitRequests waits until the receiver got at least n requests.
func (r *receiver) waitRequests(t *testing.T, n int, within time.Duration) []request {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if got := r.requests(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d requests in %s, want %d", len(r.requests()), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// integration describes one integration for the tests every integration
// passes: its config pointing at a receiver's URL, its success answer,
// and the credential that must never be logged or counted.
type integration struct {
	config func(url string) *config.Hook
	ok     answer
	secret string
}

// testRetriesAndSecrets delivers through a Dispatcher, as the daemon
// does: 5xx and 429 are retried (429 after its Retry-After), 4xx is not;
// and the integration's credential is in no log line and no metric label
// - even when a receiver quotes the request back. The Dispatcher's own
// scrubbing is left out (no Entry.Secrets): the integration must not
// leak it in the first place.
func testRetriesAndSecrets(t *testing.T, in integration) {
	cases := []struct {
		name     string
		answers  []answer
		attempts int
		result   string
	}{
		{"5xx then 429 are retried, Retry-After honoured", []answer{
			{status: http.StatusServiceUnavailable, body: "busy"},
			{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "1"}, body: "slow down"},
		}, 3, ResultSuccess},
		{"4xx is not retried", []answer{{status: http.StatusBadRequest, echo: true}}, 1, ResultFailure},
		{"a 5xx that quotes the request, then success", []answer{{status: http.StatusInternalServerError, echo: true}}, 2, ResultSuccess},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcv := newReceiver(t, in.ok, c.answers...)
			core, logs := observer.New(zap.DebugLevel)
			log := zap.New(core)
			h, err := Build(in.config(rcv.URL), Deps{Log: log})
			if err != nil {
				t.Fatal(err)
			}
			m := counter()
			d := Start([]Entry{{Hook: h, Events: []string{"leader_down"}, Timeout: 5 * time.Second}},
				Options{Log: log, Deliveries: m, MaxAttempts: 4, Backoff: fast})
			d.Notify(ev("leader_down"))
			d.Close(context.Background())

			reqs := rcv.requests()
			if len(reqs) != c.attempts {
				t.Fatalf("%d attempts, want %d", len(reqs), c.attempts)
			}
			for i := 1; i < len(reqs); i++ {
				// The backoff is 1ms: only Retry-After makes it wait.
				if wait := reqs[i].at.Sub(reqs[i-1].at); c.answers[i-1].header["Retry-After"] == "1" && wait < 900*time.Millisecond {
					t.Errorf("retried %s after a 429 with Retry-After: 1", wait)
				}
			}
			if got := testutil.ToFloat64(m.WithLabelValues(h.Name(), "leader_down", c.result)); got != 1 {
				t.Errorf("deliveries{result=%s} = %v, want 1", c.result, got)
			}
			if !sentSecret(reqs, in.secret) && in.config(rcv.URL).Type != "webhook" {
				t.Fatalf("the receiver never got the credential: the test proves nothing")
			}
			assertNoSecretInLogs(t, logs, in.secret)
			assertNoSecretInMetrics(t, m, in.secret)
			if c.result == ResultFailure && logs.FilterMessageSnippet("hook delivery failed").Len() == 0 {
				t.Error("no log line of the failure")
			}
		})
	}
}

// sentSecret reports whether a request carried secret (body, header or
// path).
func sentSecret(reqs []request, secret string) bool {
	for _, r := range reqs {
		if strings.Contains(string(r.body), secret) || strings.Contains(r.path, secret) || strings.Contains(fmt.Sprint(r.header), secret) {
			return true
		}
	}
	return false
}

func assertNoSecretInLogs(t *testing.T, logs *observer.ObservedLogs, secret string) {
	t.Helper()
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test proves nothing")
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message, secret) {
			t.Errorf("the credential is in log message %q", e.Message)
		}
		for k, v := range e.ContextMap() {
			if strings.Contains(fmt.Sprint(v), secret) {
				t.Errorf("the credential is in log line %q, field %s: %v", e.Message, k, v)
			}
		}
	}
}

func assertNoSecretInMetrics(t *testing.T, m *prometheus.CounterVec, secret string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			series++
			for _, l := range mt.GetLabel() {
				if strings.Contains(l.GetValue(), secret) || strings.Contains(l.GetName(), secret) {
					t.Errorf("the credential is in %s's label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
	if series == 0 {
		t.Fatal("drwatch_hook_deliveries_total has no series: the test proves nothing")
	}
}

func build(t *testing.T, h *config.Hook, d Deps) Hook {
	t.Helper()
	hk, err := Build(h, d)
	if err != nil {
		t.Fatal(err)
	}
	return hk
}
