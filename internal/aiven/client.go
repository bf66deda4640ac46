// Package aiven is drwatch's small client of the Aiven API, over
// github.com/aiven/go-client-codegen: the calls an Aiven pair needs (its
// services' state, plan, version and nodes; its cross-cluster-replication
// integration; deleting that integration to promote the follower; creating
// one to fail back) and discovery of a project's CCR pairs.
//
// Every call has a deadline and bounded retries that are logged, because a
// failover cannot wait a minute blindly on the client's defaults (see
// retry.go). The token is handed to the generated client and nowhere else:
// it is not logged, and it is scrubbed from every error. Failures are
// classified (Class) so that a caller can say why in words. It decides
// nothing.
package aiven

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	avn "github.com/aiven/go-client-codegen"
	"github.com/aiven/go-client-codegen/handler/service"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
)

// DefaultAPIURL is the public Aiven API, the generated client's default.
const DefaultAPIURL = "https://api.aiven.io"

// Environment variables, as Aiven's own tools read them (the generated
// client, the avn CLI, the Terraform provider).
const (
	EnvToken  = "AIVEN_TOKEN"
	EnvWebURL = "AIVEN_WEB_URL"
)

// IntegrationTypeCCR is the integration whose destination is a follower:
// deleting it promotes the follower (docs/aiven.md, "What promote to
// standalone is").
const IntegrationTypeCCR = string(service.IntegrationTypeOpensearchCrossClusterReplication)

// Defaults of Options: a call makes at most 3 attempts (waits 1 s, then
// 2 s), each attempt is cut after 10 s, and the whole call after 30 s - the
// generated client's defaults make 7 attempts with up to 67 s of waits and
// no timeout.
const (
	DefaultMaxAttempts    = 3
	DefaultRetryWaitMin   = time.Second
	DefaultRetryWaitMax   = 4 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
	DefaultCallTimeout    = 30 * time.Second
)

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	// Token is the API token (required).
	Token config.Secret
	// APIURL is the API's base URL; "" takes $AIVEN_WEB_URL, else
	// DefaultAPIURL.
	APIURL string
	// Log receives one line per retry (never the token). Default: none.
	Log *zap.Logger
	// MaxAttempts bounds the HTTP attempts of one call (1: no retry).
	MaxAttempts int
	// RetryWaitMin and RetryWaitMax bound the wait before a retry: it
	// doubles from min up to max; a Retry-After is capped at max.
	RetryWaitMin, RetryWaitMax time.Duration
	// AttemptTimeout cuts one HTTP attempt.
	AttemptTimeout time.Duration
	// CallTimeout is the deadline of one call, retries and waits included,
	// unless the caller's context has an earlier one. A retry whose wait
	// would end past the deadline is not made: the call fails at once with
	// the last answer.
	CallTimeout time.Duration
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// UserAgent is added to the generated client's User-Agent.
	UserAgent string
}

func (o Options) withDefaults() Options {
	if o.APIURL == "" {
		o.APIURL = os.Getenv(EnvWebURL)
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	o.APIURL = strings.TrimSuffix(o.APIURL, "/")
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	o.RetryWaitMax = max(o.RetryWaitMax, o.RetryWaitMin)
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.UserAgent == "" {
		o.UserAgent = "drwatch"
	}
	return o
}

// Client calls the Aiven API. It is safe for concurrent use.
type Client struct {
	api   avn.Client
	opts  Options
	token string
}

// ErrNoToken is returned by New without a token.
var ErrNoToken = errors.New("aiven: no API token (set " + EnvToken + ", or the pair's aiven.token_env or token_file)")

// New builds a client.
func New(opts Options) (*Client, error) {
	opts = opts.withDefaults()
	if !opts.Token.IsSet() {
		return nil, ErrNoToken
	}
	api, err := avn.NewClient(
		avn.TokenOpt(opts.Token.Reveal()),
		avn.HostOpt(opts.APIURL),
		avn.UserAgentOpt(opts.UserAgent),
		avn.DoerOpt(newRetryDoer(opts, opts.Log)),
		// The client's own debug log prints every call to stderr, past
		// drwatch's logger: drwatch logs the retries itself.
		avn.DebugOpt(false),
		// Single flight would hand one caller's answer - or its deadline's
		// failure - to another caller's identical GET (a probe with a
		// short deadline to a promotion's check): every call stands alone.
		avn.EnableSingleFlightOpt(false),
	)
	if err != nil {
		// NewClient fails on an unparsable AIVEN_CLIENT_* variable; its
		// text names the variable, never the token.
		return nil, fmt.Errorf("aiven: %s", scrub(err.Error(), opts.Token.Reveal()))
	}
	return &Client{api: api, opts: opts, token: opts.Token.Reveal()}, nil
}

// ForPair builds a client from a pair's aiven block: its token, and its
// api_url (else $AIVEN_WEB_URL). opts supplies the rest.
func ForPair(a *config.Aiven, opts Options) (*Client, error) {
	if a == nil {
		return nil, errors.New("aiven: the pair has no aiven block")
	}
	opts.Token = a.Token
	if a.APIURL != "" {
		opts.APIURL = a.APIURL
	}
	return New(opts)
}

// APIURL is the base URL the client calls.
func (c *Client) APIURL() string { return c.opts.APIURL }

// call runs f under the call's deadline and classifies its error.
func (c *Client) call(ctx context.Context, op string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	st := &callState{op: op}
	err := f(withCallState(ctx, st))
	if err == nil {
		return nil
	}
	return classify(op, err, st.attempts, c.token)
}

// ListServices lists the project's services (GET /v1/project/{project}/service).
func (c *Client) ListServices(ctx context.Context, project string) ([]Service, error) {
	var out []service.ServiceOut
	err := c.call(ctx, "list services of project "+project, func(ctx context.Context) (err error) {
		out, err = c.api.ServiceList(ctx, project)
		return err
	})
	if err != nil {
		return nil, err
	}
	svcs := make([]Service, len(out))
	for i := range out {
		svcs[i] = serviceFromList(project, &out[i])
	}
	return svcs, nil
}

// GetService reads one service (GET /v1/project/{project}/service/{service}).
func (c *Client) GetService(ctx context.Context, project, name string) (Service, error) {
	var out *service.ServiceGetOut
	err := c.call(ctx, "get service "+project+"/"+name, func(ctx context.Context) (err error) {
		out, err = c.api.ServiceGet(ctx, project, name)
		return err
	})
	if err != nil {
		return Service{}, err
	}
	return serviceFromGet(project, out), nil
}

// ServiceIntegrations lists the integrations a service is the source or
// destination of (GET /v1/project/{project}/service/{service}/integration).
func (c *Client) ServiceIntegrations(ctx context.Context, project, name string) ([]Integration, error) {
	var out []service.ServiceIntegrationOut
	err := c.call(ctx, "list integrations of service "+project+"/"+name, func(ctx context.Context) (err error) {
		out, err = c.api.ServiceIntegrationList(ctx, project, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	ints := make([]Integration, len(out))
	for i := range out {
		ints[i] = integrationFrom(&out[i])
	}
	return ints, nil
}

// ProjectIntegrations lists every integration of the project's services,
// each once. The API has no project-wide list (POST
// /v1/project/{project}/integration creates; go-client-codegen has no GET
// there): the service list carries each service's integrations, so this is
// one request whatever the number of services.
func (c *Client) ProjectIntegrations(ctx context.Context, project string) ([]Integration, error) {
	svcs, err := c.ListServices(ctx, project)
	if err != nil {
		return nil, err
	}
	return uniqueIntegrations(svcs), nil
}

// GetIntegration reads one integration (GET /v1/project/{project}/integration/{id}).
// A freshly created one may briefly answer 404 (docs/aiven.md "REST shapes").
func (c *Client) GetIntegration(ctx context.Context, project, id string) (Integration, error) {
	var out *service.ServiceIntegrationGetOut
	err := c.call(ctx, "get integration "+id+" in project "+project, func(ctx context.Context) (err error) {
		out, err = c.api.ServiceIntegrationGet(ctx, project, id)
		return err
	})
	if err != nil {
		return Integration{}, err
	}
	return integrationFrom((*service.ServiceIntegrationOut)(out)), nil
}

// DeleteIntegration deletes an integration (DELETE
// /v1/project/{project}/integration/{id}); for a CCR integration this
// promotes its destination. A 404 comes back as ClassNotFound: after a
// retry or a restart it may mean the delete was done already; the caller
// decides.
func (c *Client) DeleteIntegration(ctx context.Context, project, id string) error {
	return c.call(ctx, "delete integration "+id+" in project "+project, func(ctx context.Context) error {
		return c.api.ServiceIntegrationDelete(ctx, project, id)
	})
}

// NewIntegration is what CreateIntegration creates.
type NewIntegration struct {
	Type          string // e.g. IntegrationTypeCCR
	SourceService string
	DestService   string
}

// CreateIntegration creates an integration in the project (POST
// /v1/project/{project}/integration): with IntegrationTypeCCR, the source
// becomes the leader of the destination. A second create of the same
// integration answers 409 (IsAlreadyExists).
func (c *Client) CreateIntegration(ctx context.Context, project string, in NewIntegration) (Integration, error) {
	src, dst := in.SourceService, in.DestService
	req := &service.ServiceIntegrationCreateIn{
		IntegrationType: service.IntegrationType(in.Type),
		SourceService:   &src,
		DestService:     &dst,
	}
	var out *service.ServiceIntegrationCreateOut
	op := fmt.Sprintf("create %s integration %s -> %s in project %s", in.Type, src, dst, project)
	err := c.call(ctx, op, func(ctx context.Context) (err error) {
		out, err = c.api.ServiceIntegrationCreate(ctx, project, req)
		return err
	})
	if err != nil {
		return Integration{}, err
	}
	return integrationFrom((*service.ServiceIntegrationOut)(out)), nil
}
