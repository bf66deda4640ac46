package aiven_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

const (
	proj     = "acme"
	password = "avnadmin-pw-71c3e9"
)

// fastOpts keep the retry structure (3 attempts) with short waits.
func fastOpts(f *fakeaiven.Server, log *zap.Logger) aiven.Options {
	return aiven.Options{Token: config.NewSecret(f.Token), APIURL: f.URL, Log: log,
		RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 20 * time.Millisecond}
}

func newPair(t *testing.T) (*fakeaiven.Server, string) {
	t.Helper()
	f := fakeaiven.New(t, "")
	f.AddService(proj, fakeaiven.Service{Name: "os-prod", Version: "2.19.1", Password: password})
	f.AddService(proj, fakeaiven.Service{Name: "os-dr", Version: "2.19.1", Plan: "business-8", Password: password})
	id := f.AddIntegration(proj, fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	return f, id
}

func newClient(t *testing.T, o aiven.Options) *aiven.Client {
	t.Helper()
	c, err := aiven.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadsServicesAndIntegrations(t *testing.T) {
	f, id := newPair(t)
	f.SetNodes(proj, "os-prod", []fakeaiven.Node{{Name: "os-prod-1", State: "running"}, {Name: "os-prod-2", State: "leaving"}})
	c := newClient(t, fastOpts(f, nil))
	ctx := context.Background()

	svcs, err := c.ListServices(ctx, proj)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 2 || svcs[0].Name != "os-dr" || svcs[1].Name != "os-prod" {
		t.Fatalf("services = %+v", svcs)
	}
	prod := svcs[1]
	if prod.State != aiven.StateRunning || prod.Plan != "business-4" || prod.Version != "2.19.1" || prod.Type != "opensearch" {
		t.Errorf("os-prod = %+v", prod)
	}
	if prod.URL != "https://os-prod-acme.aivencloud.com:12345" || prod.Username != "avnadmin" {
		t.Errorf("os-prod address = %q user %q (want the component's host:port, no password)", prod.URL, prod.Username)
	}
	if len(prod.Nodes) != 2 || prod.Nodes[1].State != "leaving" {
		t.Errorf("os-prod nodes = %+v", prod.Nodes)
	}
	if len(prod.Integrations) != 1 || prod.Integrations[0].ID != id || !prod.Integrations[0].IsCCR() || prod.Integrations[0].Status != "running" {
		t.Errorf("os-prod integrations = %+v", prod.Integrations)
	}
	if fmt.Sprintf("%+v", svcs) != strings.ReplaceAll(fmt.Sprintf("%+v", svcs), password, "") {
		t.Error("a Service holds the service password")
	}

	dr, err := c.GetService(ctx, proj, "os-dr")
	if err != nil {
		t.Fatal(err)
	}
	if dr.Plan != "business-8" || dr.URL != "https://os-dr-acme.aivencloud.com:12345" || len(dr.Nodes) != 3 {
		t.Errorf("os-dr = %+v", dr)
	}

	ints, err := c.ServiceIntegrations(ctx, proj, "os-dr")
	if err != nil {
		t.Fatal(err)
	}
	want := aiven.Integration{ID: id, Type: aiven.IntegrationTypeCCR, SourceProject: proj, SourceService: "os-prod",
		DestProject: proj, DestService: "os-dr", Active: true, Enabled: true, Status: "running", StatusDesc: "Integration is running", Errors: []string{}}
	if len(ints) != 1 || fmt.Sprint(ints[0]) != fmt.Sprint(want) {
		t.Errorf("integrations of os-dr = %+v, want %+v", ints, want)
	}
	all, err := c.ProjectIntegrations(ctx, proj)
	if err != nil || len(all) != 1 {
		t.Errorf("project integrations = %+v, %v (want the CCR once, though both services list it)", all, err)
	}

	if _, err := c.GetService(ctx, proj, "nope"); !aiven.IsNotFound(err) || !strings.Contains(err.Error(), "Service nope does not exist") {
		t.Errorf("unknown service: %v (want not_found with Aiven's message)", err)
	}

	// Aiven's clients send limit=999 and the aivenv1 token on every call
	// (go-client-codegen client.go).
	reqs := f.Requests()
	wantPaths := []string{"GET /v1/project/acme/service", "GET /v1/project/acme/service/os-dr",
		"GET /v1/project/acme/service/os-dr/integration", "GET /v1/project/acme/service", "GET /v1/project/acme/service/nope"}
	if len(reqs) != len(wantPaths) {
		t.Fatalf("requests = %+v", reqs)
	}
	for i, r := range reqs {
		if r.Method+" "+r.Path != wantPaths[i] || r.Query != "limit=999" || !r.Authorized {
			t.Errorf("request %d = %+v, want %s?limit=999, authorized", i, r, wantPaths[i])
		}
	}
}

func TestDeleteCreateAndTheFreshIntegration(t *testing.T) {
	f, id := newPair(t)
	var deleted []fakeaiven.Integration
	f.OnDeleteCCR(func(_ context.Context, in fakeaiven.Integration) error {
		deleted = append(deleted, in)
		return nil
	})
	c := newClient(t, fastOpts(f, nil))
	ctx := context.Background()

	if err := c.DeleteIntegration(ctx, proj, id); err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].DestService != "os-dr" {
		t.Errorf("delete hook saw %+v", deleted)
	}
	if _, ok := f.Integration(proj, id); ok {
		t.Error("integration still there after delete")
	}
	// Deleting again: 404, not retried (a promotion resumed after a
	// restart reads it as done).
	n := len(f.Requests())
	if err := c.DeleteIntegration(ctx, proj, id); !aiven.IsNotFound(err) {
		t.Errorf("second delete: %v, want not found", err)
	}
	if got := len(f.Requests()) - n; got != 1 {
		t.Errorf("second delete made %d requests, want 1", got)
	}
	f.DeleteAnswers204()

	// Failback: the other direction, then the 404 a fresh integration
	// answers for a moment, then inactive, then active.
	f.HideAfterCreate(2)
	in, err := c.CreateIntegration(ctx, proj, aiven.NewIntegration{Type: aiven.IntegrationTypeCCR, SourceService: "os-dr", DestService: "os-prod"})
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.SourceService != "os-dr" || in.DestService != "os-prod" || in.Active {
		t.Errorf("created = %+v", in)
	}
	for i := range 2 {
		if _, err := c.GetIntegration(ctx, proj, in.ID); !aiven.IsNotFound(err) {
			t.Fatalf("read %d right after create: %v, want 404", i, err)
		}
	}
	if got, err := c.GetIntegration(ctx, proj, in.ID); err != nil || got.Active {
		t.Fatalf("third read: %+v %v, want inactive", got, err)
	}
	if got, err := c.GetIntegration(ctx, proj, in.ID); err != nil || !got.Active || got.Status != "running" {
		t.Fatalf("fourth read: %+v %v, want active and running", got, err)
	}
	_, err = c.CreateIntegration(ctx, proj, aiven.NewIntegration{Type: aiven.IntegrationTypeCCR, SourceService: "os-dr", DestService: "os-prod"})
	if !aiven.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want already exists", err)
	}
	if err := c.DeleteIntegration(ctx, proj, in.ID); err != nil {
		t.Errorf("delete answered 204: %v", err)
	}
	for _, r := range f.Requests() {
		if r.Query != "limit=999" {
			t.Errorf("%s %s without limit=999: %q", r.Method, r.Path, r.Query)
		}
	}
}

func TestTransientErrorsRetriedWithinBoundsAndLogged(t *testing.T) {
	f, _ := newPair(t)
	core, logs := observer.New(zapcore.InfoLevel)
	c := newClient(t, fastOpts(f, zap.New(core)))
	ctx := context.Background()

	f.Fail(http.MethodGet, "/service/os-dr", http.StatusServiceUnavailable, 2, "")
	if _, err := c.GetService(ctx, proj, "os-dr"); err != nil {
		t.Fatalf("two 503s then an answer: %v", err)
	}
	retries := logs.FilterMessage("Aiven API call failed; retrying").All()
	if len(retries) != 2 {
		t.Fatalf("retry log lines = %d, want 2: %+v", len(retries), logs.All())
	}
	for i, e := range retries {
		m := e.ContextMap()
		if m["attempt"] != int64(i+1) || m["max_attempts"] != int64(3) || m["cause"] != "HTTP 503" || m["path"] != "/v1/project/acme/service/os-dr" {
			t.Errorf("retry line %d = %v", i, m)
		}
	}

	// Beyond the bound: 3 attempts, then the API's own answer, classified.
	f.Fail(http.MethodDelete, "/integration/", http.StatusBadGateway, 10, "")
	before := len(f.Requests())
	err := c.DeleteIntegration(ctx, proj, "some-id")
	var ae *aiven.Error
	if !errors.As(err, &ae) || ae.Class != aiven.ClassTransient || ae.Status != 502 || ae.Attempts != 3 {
		t.Fatalf("err = %#v", err)
	}
	if got := len(f.Requests()) - before; got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	for _, want := range []string{"delete integration some-id in project acme", "server error", "HTTP 502", "after 3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// A 4xx is not retried.
	before = len(f.Requests())
	_, err = c.CreateIntegration(ctx, proj, aiven.NewIntegration{Type: aiven.IntegrationTypeCCR})
	if aiven.ClassOf(err) != aiven.ClassRejected || len(f.Requests())-before != 1 {
		t.Errorf("400: %v after %d requests", err, len(f.Requests())-before)
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	f, _ := newPair(t)
	o := fastOpts(f, nil)
	o.RetryWaitMax = 50 * time.Millisecond
	c := newClient(t, o)
	f.Fail("", "/service", http.StatusTooManyRequests, 1, "3600")
	start := time.Now()
	if _, err := c.ListServices(context.Background(), proj); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Retry-After: 3600 waited %s; the wait must be capped at RetryWaitMax", el)
	}
}

func TestDeadlineBoundsTheCall(t *testing.T) {
	f, _ := newPair(t)
	core, logs := observer.New(zapcore.InfoLevel)
	o := fastOpts(f, zap.New(core))
	o.RetryWaitMin, o.RetryWaitMax, o.CallTimeout = 2*time.Second, 2*time.Second, 400*time.Millisecond
	c := newClient(t, o)

	// The next wait (2 s) would outlast the call's deadline (400 ms): the
	// call gives up at once with the API's answer, not a blind wait and
	// "context deadline exceeded".
	f.Fail("", "/service", http.StatusServiceUnavailable, 10, "")
	start := time.Now()
	_, err := c.ListServices(context.Background(), proj)
	if aiven.ClassOf(err) != aiven.ClassTransient || time.Since(start) > 300*time.Millisecond {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	if logs.FilterMessage("Aiven API call failed; no time left before its deadline for another attempt").Len() != 1 {
		t.Errorf("logs = %+v", logs.All())
	}

	// A server that never answers: the call ends at its deadline, as a
	// timeout.
	stuck := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer stuck.Close()
	o.APIURL, o.AttemptTimeout = stuck.URL, 5*time.Second
	c = newClient(t, o)
	start = time.Now()
	_, err = c.GetService(context.Background(), proj, "os-dr")
	if aiven.ClassOf(err) != aiven.ClassTimeout || time.Since(start) > 2*time.Second {
		t.Fatalf("stuck server: %v after %s", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "no answer from the Aiven API before the deadline") {
		t.Errorf("err = %v", err)
	}

	// The attempt timeout cuts one attempt; the next attempts are bounded
	// by it too.
	o.AttemptTimeout, o.CallTimeout, o.RetryWaitMin, o.RetryWaitMax = 100*time.Millisecond, 5*time.Second, 5*time.Millisecond, 5*time.Millisecond
	c = newClient(t, o)
	start = time.Now()
	_, err = c.GetService(context.Background(), proj, "os-dr")
	var ae *aiven.Error
	if !errors.As(err, &ae) || ae.Class != aiven.ClassTimeout || ae.Attempts != 3 || time.Since(start) > 2*time.Second {
		t.Fatalf("attempt timeouts: %#v after %s", err, time.Since(start))
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	f, _ := newPair(t)
	var logBuf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logBuf), zapcore.DebugLevel))

	// A wrong token: 401, said in words.
	wrong := "wrong-token-8d2f6a1c"
	o := fastOpts(f, log)
	o.Token = config.NewSecret(wrong)
	_, err := newClient(t, o).ListServices(context.Background(), proj)
	if aiven.ClassOf(err) != aiven.ClassUnauthorized || !strings.Contains(err.Error(), "refused the token") {
		t.Fatalf("wrong token: %v", err)
	}
	if r := f.Requests(); r[len(r)-1].Authorized {
		t.Error("the fake accepted a wrong token")
	}

	// A failing server that echoes the request's Authorization header in
	// its error message, with retries logged on the way.
	var calls atomic.Int32
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusInternalServerError
		if calls.Add(1) > 2 {
			status = http.StatusForbidden
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		msg := "cannot serve " + r.Header.Get("Authorization")
		fmt.Fprintf(w, `{"message":%q,"errors":[{"message":%q,"status":%d}]}`, msg, msg, status)
	}))
	defer echo.Close()
	o = fastOpts(f, log)
	o.APIURL = echo.URL
	c := newClient(t, o)
	var errs []string
	for _, call := range []func() error{
		func() error { _, err := c.ListServices(context.Background(), proj); return err },
		func() error { return c.DeleteIntegration(context.Background(), proj, "x") },
	} {
		err := call()
		if err == nil {
			t.Fatal("echo server: no error")
		}
		errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	if !strings.Contains(errs[0], "cannot serve aivenv1 <secret>") {
		t.Errorf("error = %s, want the API's message with the token scrubbed", errs[0])
	}
	if !strings.Contains(logBuf.String(), "retrying") {
		t.Errorf("no retry logged: %s", logBuf.String())
	}
	all := strings.Join(errs, "\n") + logBuf.String()
	for _, tok := range []string{f.Token, wrong} {
		if strings.Contains(all, tok) {
			t.Errorf("token %q appears in errors or logs:\n%s", tok, all)
		}
	}

	// No token at all.
	if _, err := aiven.New(aiven.Options{APIURL: f.URL}); !errors.Is(err, aiven.ErrNoToken) {
		t.Errorf("no token: %v", err)
	}
}

func TestAPIURLFromEnvironment(t *testing.T) {
	f, _ := newPair(t)
	t.Setenv(aiven.EnvWebURL, f.URL+"/")
	c := newClient(t, aiven.Options{Token: config.NewSecret(f.Token)})
	if c.APIURL() != f.URL {
		t.Errorf("APIURL = %q, want %s from %s", c.APIURL(), f.URL, aiven.EnvWebURL)
	}
	if _, err := c.ListServices(context.Background(), proj); err != nil {
		t.Fatal(err)
	}
	// A pair's api_url wins over the environment.
	t.Setenv(aiven.EnvWebURL, "http://127.0.0.1:1")
	c, err := aiven.ForPair(&config.Aiven{APIURL: f.URL, Token: config.NewSecret(f.Token)}, aiven.Options{})
	if err != nil || c.APIURL() != f.URL {
		t.Fatalf("ForPair: %v %v", c, err)
	}
	if _, err := c.GetService(context.Background(), proj, "os-prod"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(aiven.EnvWebURL, "")
	c = newClient(t, aiven.Options{Token: config.NewSecret("t0ken")})
	if c.APIURL() != aiven.DefaultAPIURL {
		t.Errorf("default APIURL = %q", c.APIURL())
	}
}

func TestDeleteHookFailureKeepsTheIntegration(t *testing.T) {
	f, id := newPair(t)
	f.OnDeleteCCR(func(context.Context, fakeaiven.Integration) error { return errors.New("replication did not stop") })
	c := newClient(t, fastOpts(f, nil))
	err := c.DeleteIntegration(context.Background(), proj, id)
	if aiven.ClassOf(err) != aiven.ClassTransient {
		t.Fatalf("err = %v, want transient (500)", err)
	}
	if _, ok := f.Integration(proj, id); !ok {
		t.Error("integration deleted though the hook failed")
	}
}
