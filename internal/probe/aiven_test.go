package probe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/probe"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

const aivenProject = "acme"

// aivenLab is the OpenSearch lab plus a fake Aiven API with the pair's two
// services and their CCR integration, and the prober probe.New builds for
// it (one attempt per Aiven call, every request counted).
type aivenLab struct {
	*lab
	api    *fakeaiven.Server
	ccr    string // the integration's id
	clk    time.Time
	cycles int
}

func newAivenLab(t testing.TB, interval time.Duration) *aivenLab {
	t.Helper()
	l := &aivenLab{lab: &lab{leader: fakeos.NewLeader(t), follower: fakeos.NewFollower(t)}, api: fakeaiven.New(t, ""),
		clk: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l.api.AddService(aivenProject, fakeaiven.Service{Name: "os-prod"})
	l.api.AddService(aivenProject, fakeaiven.Service{Name: "os-dr"})
	l.ccr = l.api.AddIntegration(aivenProject, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	l.prober = newAivenProber(t, l.leader, l.follower, l.api.URL, l.api.Token, interval)
	l.prober.Now = func() time.Time { return l.clk }
	return l
}

func newAivenProber(t testing.TB, leader, follower *fakeos.Cluster, apiURL, token string, interval time.Duration) *probe.Prober {
	t.Helper()
	pol := config.DefaultPolicy()
	pol.ProbeTimeout = config.Duration(2 * time.Second)
	fe := follower.Endpoint()
	fe.LeaderAlias = "leader"
	pr, err := probe.New(&config.Pair{
		Name: "orders", Leader: leader.Endpoint(), Follower: fe, Indices: []string{"*"}, Resolved: pol,
		Aiven: &config.Aiven{Project: aivenProject, LeaderService: "os-prod", FollowerService: "os-dr",
			APIURL: apiURL, ProbeInterval: config.Duration(interval), Token: config.NewSecret(token)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// cycle advances the fake clock by after and runs one cycle.
func (l *aivenLab) cycle(after time.Duration) observe.Observation {
	l.clk = l.clk.Add(after)
	l.cycles++
	return l.prober.Cycle(context.Background())
}

// aivenGETs counts the requests the fake Aiven API received.
func (l *aivenLab) aivenGETs(t testing.TB) int {
	t.Helper()
	n := 0
	for _, r := range l.api.Requests() {
		if r.Method != http.MethodGet || !r.Authorized || !strings.HasPrefix(r.Path, "/v1/project/acme/service/") {
			t.Fatalf("unexpected Aiven request %+v", r)
		}
		n++
	}
	return n
}

// One cycle reads both services (node states and integrations included)
// in two requests, beside the seven OpenSearch requests, counted apart.
func TestCycleReadsAiven(t *testing.T) {
	l := newAivenLab(t, 15*time.Second)
	l.api.SetNodes(aivenProject, "os-dr", []fakeaiven.Node{{Name: "os-dr-1", State: "running"}, {Name: "os-dr-2", State: "syncing_data"}})
	o := l.cycle(0)
	a := o.Aiven
	if a == nil {
		t.Fatal("no Aiven reading")
	}
	if a.Failure != nil || !a.ReadAt.Equal(o.Time) || a.Interval != 15*time.Second {
		t.Fatalf("reading = %+v (failure %+v)", a, a.Failure)
	}
	wantLeader := &observe.AivenService{Name: "os-prod", State: "RUNNING", NodesTotal: 3, NodesRunning: 3}
	if !reflect.DeepEqual(a.Leader, wantLeader) {
		t.Fatalf("leader service = %+v, want %+v", a.Leader, wantLeader)
	}
	wantFollower := &observe.AivenService{Name: "os-dr", State: "RUNNING", NodesTotal: 2, NodesRunning: 1,
		NotRunning: []observe.AivenNode{{Name: "os-dr-2", State: "syncing_data"}}}
	if !reflect.DeepEqual(a.Follower, wantFollower) || !a.Follower.Recycling() || a.Leader.Recycling() {
		t.Fatalf("follower service = %+v, want %+v", a.Follower, wantFollower)
	}
	wantCCR := &observe.AivenIntegration{Found: true, ID: l.ccr, Active: true, Status: "running"}
	if !reflect.DeepEqual(a.Integration, wantCCR) {
		t.Fatalf("integration = %+v, want %+v", a.Integration, wantCCR)
	}
	if o.Requests != 10 || o.AivenRequests != 2 || l.aivenGETs(t) != 2 {
		t.Fatalf("requests: OpenSearch %d (want 10), Aiven %d (want 2), the fake saw %d", o.Requests, o.AivenRequests, l.aivenGETs(t))
	}
	if !o.Leader.Reachable || !o.Follower.Remote.Connected || !o.Follower.Replication.LagComplete {
		t.Fatalf("OpenSearch fields = %+v", o)
	}
}

// The Aiven API is read at most once per aiven.probe_interval; between
// refreshes the observation carries the last reading with its time, and
// costs no Aiven request.
func TestCycleAivenRefreshedAtMostOncePerInterval(t *testing.T) {
	l := newAivenLab(t, 15*time.Second)
	first := l.cycle(0)
	l.api.SetState(aivenProject, "os-prod", "REBALANCING")
	for i, want := range []struct {
		after   time.Duration
		reqs    int64
		readAt  time.Time
		state   string
		fakeSaw int
	}{
		{5 * time.Second, 0, first.Time, "RUNNING", 2},
		{5 * time.Second, 0, first.Time, "RUNNING", 2},
		{4900 * time.Millisecond, 0, first.Time, "RUNNING", 2}, // 14.9 s: not yet
		{100 * time.Millisecond, 2, first.Time.Add(15 * time.Second), "REBALANCING", 4},
		{5 * time.Second, 0, first.Time.Add(15 * time.Second), "REBALANCING", 4},
	} {
		o := l.cycle(want.after)
		a := o.Aiven
		if o.AivenRequests != want.reqs || !a.ReadAt.Equal(want.readAt) || a.Leader.State != want.state || l.aivenGETs(t) != want.fakeSaw {
			t.Fatalf("cycle %d at +%s: %d Aiven requests, read at %s, leader %s, the fake saw %d; want %d, %s, %s, %d",
				i+1, o.Time.Sub(first.Time), o.AivenRequests, a.ReadAt.Format(time.TimeOnly), a.Leader.State, l.aivenGETs(t),
				want.reqs, want.readAt.Format(time.TimeOnly), want.state, want.fakeSaw)
		}
		if o.Requests != 9 { // the first cycle's tenth: the retention lease period, every 10 minutes
			t.Fatalf("cycle %d: %d OpenSearch requests, want 9", i+1, o.Requests)
		}
	}
}

// openSearchPart is an observation without its Aiven part and its
// timings: what OpenSearch answered.
func openSearchPart(o observe.Observation) observe.Observation {
	o.Aiven, o.AivenRequests, o.Duration, o.Time = nil, 0, 0, time.Time{}
	o.Leader.Latency, o.Follower.Latency = 0, 0
	o.Follower.Witness.SentAt, o.Follower.Witness.Latency = time.Time{}, 0
	return o
}

// An Aiven API that fails, refuses the token, cannot be reached or hangs
// past the cycle's deadline changes nothing of what OpenSearch answered:
// the failure is the Aiven reading's, classified, token-free, not retried
// within the cycle. (A request refused at connect counts: it was sent.)
func TestCycleAivenFailureLeavesOpenSearchAlone(t *testing.T) {
	ref := newLab(t)
	want := openSearchPart(ref.prober.Cycle(context.Background()))

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name    string
		setup   func(l *aivenLab) (apiURL, token string)
		class   observe.Class
		status  int
		message string
		reqs    int64
	}{
		{"503", func(l *aivenLab) (string, string) {
			l.api.Fail(http.MethodGet, "/service/os-prod", 503, 5, "")
			return l.api.URL, l.api.Token
		}, observe.ClassHTTP5xx, 503, "get service acme/os-prod", 2},
		{"token refused", func(l *aivenLab) (string, string) { return l.api.URL, "not-the-token-9d2f" },
			observe.ClassAuth, 401, "refused the token", 2},
		{"service gone", func(l *aivenLab) (string, string) {
			l.api.Fail(http.MethodGet, "/service/os-prod", 404, 5, "")
			return l.api.URL, l.api.Token
		}, observe.ClassHTTP4xx, 404, "not found", 2},
		{"refused", func(l *aivenLab) (string, string) { return closed.URL, l.api.Token }, observe.ClassConnRefused, 0, "cannot reach the Aiven API", 2},
		{"hangs", func(l *aivenLab) (string, string) { return hang.URL, l.api.Token }, observe.ClassTimeout, 0, "before the deadline", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newAivenLab(t, 15*time.Second)
			url, token := tc.setup(l)
			l.prober = newAivenProber(t, l.leader, l.follower, url, token, 15*time.Second)
			start := time.Now()
			o := l.prober.Cycle(context.Background())
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("the cycle took %s: not bounded by its 2s timeout", took)
			}
			if got := openSearchPart(o); !reflect.DeepEqual(got, want) {
				t.Fatalf("OpenSearch fields differ with a failing Aiven API:\n got %+v\nwant %+v", got, want)
			}
			a := o.Aiven
			if a == nil || a.Failure == nil || a.Failure.Class != tc.class || a.Failure.Status != tc.status || !strings.Contains(a.Failure.Message, tc.message) {
				t.Fatalf("Aiven reading = %+v, failure %+v; want class %s, status %d, message with %q", a, a.Failure, tc.class, tc.status, tc.message)
			}
			if strings.Contains(a.Failure.Message, l.api.Token) || strings.Contains(a.Failure.Message, token) {
				t.Fatalf("the token is in the failure: %q", a.Failure.Message)
			}
			if a.Leader != nil {
				t.Fatalf("a failed read gave a leader service: %+v", a.Leader)
			}
			if o.AivenRequests != tc.reqs {
				t.Fatalf("%d Aiven requests, want %d (one attempt per call)", o.AivenRequests, tc.reqs)
			}
		})
	}
}

// One service read fails, the other answers: what was read is kept, the
// integration is found on the service that answered.
func TestCycleAivenPartialReading(t *testing.T) {
	l := newAivenLab(t, 15*time.Second)
	l.api.Fail(http.MethodGet, "/service/os-prod", 502, 1, "")
	a := l.cycle(0).Aiven
	if a.Failure == nil || a.Failure.Class != observe.ClassHTTP5xx || a.Leader != nil || a.Follower == nil || a.Follower.State != "RUNNING" {
		t.Fatalf("reading = %+v (failure %+v)", a, a.Failure)
	}
	if a.Integration == nil || !a.Integration.Found || a.Integration.ID != l.ccr {
		t.Fatalf("integration = %+v, want found from the follower service", a.Integration)
	}
}

// The integration: missing when the follower was made standalone outside
// drwatch; its status as Aiven gives it.
func TestCycleAivenIntegration(t *testing.T) {
	l := newAivenLab(t, 15*time.Second)
	if _, err := http.DefaultClient.Do(mustRequest(t, http.MethodDelete, l.api.URL+"/v1/project/acme/integration/"+l.ccr, l.api.Token)); err != nil {
		t.Fatal(err)
	}
	// Another integration of the same services, of another type, is not it.
	l.api.AddIntegration(aivenProject, fakeaiven.Integration{Type: "opensearch_cross_cluster_search", SourceService: "os-prod", DestService: "os-dr"})
	a := l.cycle(0).Aiven
	if a.Failure != nil || a.Integration == nil || a.Integration.Found {
		t.Fatalf("integration = %+v, want read and not found", a.Integration)
	}
	id := l.api.AddIntegration(aivenProject, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr", Status: "failed"})
	a = l.cycle(15 * time.Second).Aiven
	if want := (&observe.AivenIntegration{Found: true, ID: id, Active: true, Status: "failed"}); !reflect.DeepEqual(a.Integration, want) {
		t.Fatalf("integration = %+v, want %+v", a.Integration, want)
	}
}

func mustRequest(t *testing.T, method, url, token string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "aivenv1 "+token)
	return r
}
