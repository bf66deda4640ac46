package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/aiven"
	"github.com/drwatch/drwatch/internal/observe"
)

// DefaultAivenInterval is how often the Aiven API is read by default
// (config: pairs[].aiven.probe_interval).
const DefaultAivenInterval = 15 * time.Second

// AivenAPI is what a probe reads of the Aiven API: one service, with its
// node states and integrations, in one request. *aiven.Client implements
// it.
type AivenAPI interface {
	GetService(ctx context.Context, project, name string) (aiven.Service, error)
}

// Aiven is an Aiven pair's services as a probe reads them: both services
// (two GET service requests, whatever the number of indices), at most
// once per Interval. The reading in between is the last one, with its
// time: the Aiven API is a control plane with rate limits, not a health
// endpoint to poll every second, and its view changes slowly.
//
// Calls are not retried inside a cycle (probe.New builds the client with
// one attempt per call): the next refresh is the retry.
type Aiven struct {
	API             AivenAPI
	Project         string
	LeaderService   string
	FollowerService string
	// Interval is the least time between two refreshes
	// (DefaultAivenInterval when 0).
	Interval time.Duration
	// Requests counts the HTTP requests sent to the Aiven API so far
	// (probe.New counts them at the client's transport). Nil: each call
	// counts as one request.
	Requests func() int64

	mu   sync.Mutex
	last *observe.Aiven
}

func (a *Aiven) interval() time.Duration {
	if a.Interval > 0 {
		return a.Interval
	}
	return DefaultAivenInterval
}

// due reports whether the reading should be refreshed in a cycle started
// at start: none yet, Interval has passed, or the clock went back.
func (a *Aiven) due(start time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return true
	}
	age := start.Sub(a.last.ReadAt)
	return age >= a.interval() || age < 0
}

// current is the last reading, as a copy an observation may keep.
func (a *Aiven) current() *observe.Aiven {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return nil
	}
	c := *a.last
	return &c
}

// refresh reads both services concurrently under ctx (the cycle's
// deadline), keeps the reading and returns the number of requests made.
// A failure is kept as the reading too: "the Aiven API does not answer"
// is what drwatch knows until the next refresh.
func (a *Aiven) refresh(ctx context.Context, start time.Time) int64 {
	before := a.requests()
	r := &observe.Aiven{ReadAt: start, Interval: a.interval()}
	var (
		wg           sync.WaitGroup
		leader, foll aiven.Service
		lErr, fErr   error
	)
	wg.Go(func() { leader, lErr = a.API.GetService(ctx, a.Project, a.LeaderService) })
	wg.Go(func() { foll, fErr = a.API.GetService(ctx, a.Project, a.FollowerService) })
	wg.Wait()
	var integrations []aiven.Integration
	if lErr == nil {
		r.Leader = serviceOf(leader)
		integrations = append(integrations, leader.Integrations...)
	}
	if fErr == nil {
		r.Follower = serviceOf(foll)
		integrations = append(foll.Integrations, integrations...)
	}
	if err := errors.Join(lErr, fErr); err != nil {
		r.Failure = aivenFailure(lErr)
		if lErr == nil {
			r.Failure = aivenFailure(fErr)
		}
	}
	if lErr == nil || fErr == nil {
		r.Integration = a.integration(integrations)
	}
	a.mu.Lock()
	a.last = r
	a.mu.Unlock()
	if a.Requests == nil {
		return 2
	}
	return a.requests() - before
}

func (a *Aiven) requests() int64 {
	if a.Requests == nil {
		return 0
	}
	return a.Requests()
}

// integration finds the pair's CCR integration: source the leader
// service, destination the follower service. Both services list it.
func (a *Aiven) integration(ints []aiven.Integration) *observe.AivenIntegration {
	for _, in := range ints {
		if in.IsCCR() && in.SourceService == a.LeaderService && in.DestService == a.FollowerService {
			return &observe.AivenIntegration{Found: true, ID: in.ID, Active: in.Active, Status: in.Status}
		}
	}
	return &observe.AivenIntegration{}
}

func serviceOf(s aiven.Service) *observe.AivenService {
	out := &observe.AivenService{Name: s.Name, State: s.State, NodesTotal: len(s.Nodes)}
	for _, n := range s.Nodes {
		if n.State == observe.NodeRunning {
			out.NodesRunning++
			continue
		}
		out.NotRunning = append(out.NotRunning, observe.AivenNode{Name: n.Name, State: n.State})
	}
	return out
}

// aivenFailure maps an Aiven API failure onto the closest observe.Class
// (a closed set: it is a metric label) and keeps its message, which the
// aiven package has scrubbed of the token.
func aivenFailure(err error) *observe.Failure {
	f := &observe.Failure{Class: observe.ClassNetwork, Message: err.Error()}
	var e *aiven.Error
	if !errors.As(err, &e) {
		return f
	}
	f.Status = e.Status
	switch e.Class {
	case aiven.ClassUnauthorized, aiven.ClassForbidden:
		f.Class = observe.ClassAuth
	case aiven.ClassNotFound, aiven.ClassConflict, aiven.ClassRejected:
		f.Class = observe.ClassHTTP4xx
	case aiven.ClassTransient:
		f.Class = observe.ClassHTTP5xx
		if e.Status >= 400 && e.Status < 500 { // 429, 408
			f.Class = observe.ClassHTTP4xx
		}
	case aiven.ClassTimeout:
		f.Class = observe.ClassTimeout
	case aiven.ClassCanceled:
		f.Class = observe.ClassCanceled
	case aiven.ClassBadAnswer:
		f.Class = observe.ClassMalformed
	case aiven.ClassNetwork:
		f.Class = networkClass(e.Err)
	}
	return f
}

// networkClass refines "no HTTP answer" as OpenSearch's failures are.
func networkClass(err error) observe.Class {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return observe.ClassNetwork
	case errors.Is(err, syscall.ECONNREFUSED):
		return observe.ClassConnRefused
	case errors.As(err, &dnsErr):
		return observe.ClassDNS
	case errors.As(err, &certErr), errors.As(err, &uaErr), errors.As(err, &hostErr), errors.As(err, &recErr):
		return observe.ClassTLS
	}
	return observe.ClassNetwork
}

// countingTransport counts the HTTP requests the Aiven client sends.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    int64
}

func (t *countingTransport) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
	return t.base.RoundTrip(r)
}
