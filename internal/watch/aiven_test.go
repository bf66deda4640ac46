package watch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/metrics"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/record"
	"github.com/drwatch/drwatch/internal/report"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// The Aiven token reaches the Aiven API and nothing else: not the logs,
// the status (text and JSON), the metrics, the journal or the record -
// even from an Aiven API that echoes the request's Authorization header
// back in its error messages, as a misbehaving proxy might.
func TestAivenTokenNeverLeaks(t *testing.T) {
	const token = "aiven-token-5e3b0c77d1f94a2b"
	api := fakeaiven.New(t, token)
	api.AddService("acme", fakeaiven.Service{Name: "os-prod"})
	api.AddService("acme", fakeaiven.Service{Name: "os-dr"})
	api.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	upstream, _ := url.Parse(api.URL)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var calls atomic.Int32
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch n := calls.Add(1); {
		case n <= 2: // the first refresh: refused, the header echoed
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"message":"Invalid token: %s","errors":[{"error_code":"authentication_failed","message":"got %s","status":401}]}`, auth, auth)
		case n <= 4: // the second: a server error that echoes it too
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"message":"upstream rejected %s","errors":[{"message":"%s","status":502}]}`, auth, token)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(echo.Close)

	leader, follower := fakeos.NewLeader(t), fakeos.NewFollower(t)
	fe := follower.Endpoint()
	fe.LeaderAlias = "leader"
	pol := config.DefaultPolicy()
	pol.Mode = config.ModeManual
	pair := &config.Pair{Name: "orders", Leader: leader.Endpoint(), Follower: fe, Indices: []string{"*"}, Resolved: pol,
		Aiven: &config.Aiven{Project: "acme", LeaderService: "os-prod", FollowerService: "os-dr", APIURL: echo.URL,
			ProbeInterval: config.Duration(15 * time.Second), Token: config.NewSecret(token)}}
	pr, err := probe.New(pair)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	pr.Now = now

	dir, j := openJournal(t)
	core, logs := observer.New(zapcore.DebugLevel)
	rt, err := Load(j, "orders", now())
	if err != nil {
		t.Fatal(err)
	}
	rt.SetRecorder(record.New(dir, "orders", record.Options{}))
	m := metrics.New()
	m.InitPair("orders")
	w := New(Config{Pair: pair, Prober: pr, Exec: &hookExecutor{hook: func(int) {}}, Journal: j, Metrics: m, Log: zap.New(core), Runtime: rt, Now: now})
	m.InitAiven("orders")
	// Refreshes at 0 s (401), 15 s (502), 30 s (answers): every cycle
	// between carries the last reading.
	for range 8 {
		w.tick(context.Background())
		clock = clock.Add(5 * time.Second)
	}
	rt.CloseRecorder()
	if calls.Load() != 6 {
		t.Fatalf("%d Aiven requests, want 6 (3 refreshes of 2)", calls.Load())
	}
	st := w.Status()
	if st.Observation == nil || st.Observation.Aiven == nil || st.Observation.Aiven.Failure != nil || st.Observation.Aiven.Leader == nil {
		t.Fatalf("the last reading should have succeeded: %+v", st.Observation)
	}

	var out bytes.Buffer
	if err := report.Text(&out, report.Status{Pairs: []report.PairStatus{st}}); err != nil {
		t.Fatal(err)
	}
	if err := report.JSON(&out, report.Status{Pairs: []report.PairStatus{st}}); err != nil {
		t.Fatal(err)
	}
	fams, err := m.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&out, f); err != nil {
			t.Fatal(err)
		}
	}
	failures := 0
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(buf.Bytes())
		if e.Message == "Aiven API reading failed; its view is not used" {
			failures++
		}
	}
	if failures != 1 {
		t.Fatalf("%d failure log lines, want 1 (the failure, not each cycle of it): %v", failures, logs.All())
	}
	if err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out.Write(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	all := out.String()
	for _, want := range []string{"refused the token", "HTTP 502", "drwatch_aiven_api_errors_total", `"aiven"`, "aiven      os-prod RUNNING"} {
		if !strings.Contains(all, want) {
			t.Fatalf("the output lacks %q: the test does not see what it checks", want)
		}
	}
	if strings.Contains(all, token) || strings.Contains(all, token[:16]) {
		i := strings.Index(all, token[:16])
		t.Fatalf("the token leaked: ...%s...", all[max(0, i-200):min(len(all), i+100)])
	}
}
