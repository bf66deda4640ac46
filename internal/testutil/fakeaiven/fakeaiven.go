// Package fakeaiven is an httptest Aiven API for drwatch's tests: the
// projects, services and service integrations an Aiven for OpenSearch pair
// touches, answered in the shapes Aiven's API reference documents, with the
// faults that matter to a failover (transient 5xx, a bad token, the 404 a
// fresh integration answers for a moment).
//
// Sources of every shape, cited where it is written:
//   - docs/aiven.md ("REST shapes", "What promote to standalone is"):
//     paths, bodies, the error envelope, 404 after create;
//   - github.com/aiven/go-client-codegen v0.237.0, handler/service/service.go:
//     the paths and verbs of ServiceList, ServiceGet, ServiceIntegrationList,
//     ServiceIntegrationGet, ServiceIntegrationCreate and
//     ServiceIntegrationDelete, the response wrappers (serviceListOut
//     "services", serviceGetOut "service", serviceIntegrationListOut
//     "service_integrations", serviceIntegrationGetOut and
//     serviceIntegrationCreateOut "service_integration") and the field names
//     and required fields of ServiceOut, ServiceGetOut, NodeStateOut,
//     ComponentOut, ServiceIntegrationOut, IntegrationStatusOut, StateOut;
//   - go-client-codegen client.go (Authorization "aivenv1 <token>", "limit"
//     999 added to every call) and error.go (the failed-response shape
//     {"message", "errors"}, after https://api.aiven.io/doc/#section/Responses/Failed-responses).
//
// The server does not import drwatch's client: its JSON is written from the
// documents, so a test that decodes it checks the client against them.
//
// It serves end-to-end tests too (New takes a testing.TB; OnDeleteCCR lets
// a test make the delete of a CCR integration stop replication on a real
// follower, as Aiven does).
package fakeaiven

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// IntegrationTypeCCR is Aiven's cross-cluster-replication integration type
// (go-client-codegen service.IntegrationTypeOpensearchCrossClusterReplication).
const IntegrationTypeCCR = "opensearch_cross_cluster_replication"

// Service is a service of the fake, as a test describes it.
type Service struct {
	Name    string
	Type    string // default "opensearch"
	State   string // RUNNING (default), REBUILDING, POWEROFF, REBALANCING
	Plan    string // default "business-4"
	Cloud   string // default "google-europe-west1"
	Version string // OpenSearch version, e.g. "2.19.1"; default "2"
	// Host and Port form the service's address (components,
	// service_uri, connection_info). Default <name>-<project>.aivencloud.com:12345.
	Host string
	Port int
	// Password is avnadmin's: it appears in service_uri and
	// connection_info, as the real API shows it.
	Password string
	// Nodes are the node_states; default 3 nodes "running".
	Nodes []Node
}

// Node is one entry of node_states.
type Node struct {
	Name  string `json:"name"`
	State string `json:"state"` // running, leaving, setting_up_vm, syncing_data, timing_out, unknown
}

// Integration is a service integration of the fake.
type Integration struct {
	ID            string
	Type          string
	SourceProject string
	SourceService string
	DestProject   string
	DestService   string
	Active        bool
	Enabled       bool
	Status        string // integration_status.state.status
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  string
	// Authorized is whether it carried the right "aivenv1 <token>".
	Authorized bool
}

type fault struct {
	method, path string
	status       int
	left         int
	retryAfter   string
}

type project struct {
	services     map[string]*Service
	created      map[string]time.Time
	integrations map[string]*Integration
	// hidden counts the GETs a fresh integration still answers 404 to.
	hidden map[string]int
}

// Server is the fake Aiven API.
type Server struct {
	// URL is the API's base URL (give it to the client as its api_url or
	// AIVEN_WEB_URL).
	URL string
	// Token is the only token it accepts.
	Token string

	srv *httptest.Server

	mu              sync.Mutex
	projects        map[string]*project
	faults          []*fault
	requests        []Request
	nextID          int
	hideAfterCreate int
	onDeleteCCR     func(context.Context, Integration) error
	deleteStatus    int
	now             func() time.Time
}

// New starts a fake with token as its one valid token ("" picks one) and
// closes it when the test ends.
func New(t testing.TB, token string) *Server {
	t.Helper()
	if token == "" {
		token = "fake-aiven-token-4f1c9a7e2b"
	}
	s := &Server{Token: token, projects: map[string]*project{}, deleteStatus: http.StatusOK,
		now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/project/", s.serve)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Server) project(name string) *project {
	p := s.projects[name]
	if p == nil {
		p = &project{services: map[string]*Service{}, created: map[string]time.Time{},
			integrations: map[string]*Integration{}, hidden: map[string]int{}}
		s.projects[name] = p
	}
	return p
}

// AddService adds (or replaces) a service in a project, with defaults for
// what svc leaves empty.
func (s *Server) AddService(projectName string, svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc.Type == "" {
		svc.Type = "opensearch"
	}
	if svc.State == "" {
		svc.State = "RUNNING"
	}
	if svc.Plan == "" {
		svc.Plan = "business-4"
	}
	if svc.Cloud == "" {
		svc.Cloud = "google-europe-west1"
	}
	if svc.Version == "" {
		svc.Version = "2"
	}
	if svc.Host == "" {
		svc.Host = svc.Name + "-" + projectName + ".aivencloud.com"
	}
	if svc.Port == 0 {
		svc.Port = 12345
	}
	if svc.Nodes == nil {
		for i := 1; i <= 3; i++ {
			svc.Nodes = append(svc.Nodes, Node{Name: fmt.Sprintf("%s-%d", svc.Name, i), State: "running"})
		}
	}
	p := s.project(projectName)
	p.services[svc.Name] = &svc
	p.created[svc.Name] = s.now()
}

// AddIntegration adds an integration (active, enabled, running unless in
// says otherwise through Status) and returns its id.
func (s *Server) AddIntegration(projectName string, in Integration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addIntegration(projectName, in, true)
}

func (s *Server) addIntegration(projectName string, in Integration, live bool) string {
	if in.ID == "" {
		s.nextID++
		in.ID = fmt.Sprintf("2b8e1c3a-0000-4000-8000-%012d", s.nextID)
	}
	if in.SourceProject == "" {
		in.SourceProject = projectName
	}
	if in.DestProject == "" {
		in.DestProject = projectName
	}
	if live {
		in.Active, in.Enabled = true, true
		if in.Status == "" {
			in.Status = "running"
		}
	}
	s.project(projectName).integrations[in.ID] = &in
	return in.ID
}

// SetState sets a service's state (RUNNING, REBUILDING, POWEROFF, REBALANCING).
func (s *Server) SetState(projectName, service, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc := s.project(projectName).services[service]; svc != nil {
		svc.State = state
	}
}

// SetNodes sets a service's node_states.
func (s *Server) SetNodes(projectName, service string, nodes []Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc := s.project(projectName).services[service]; svc != nil {
		svc.Nodes = nodes
	}
}

// Fail makes the next count requests whose method is method ("" any) and
// whose path contains path answer status, in Aiven's error shape, with
// Retry-After retryAfter when not "".
func (s *Server) Fail(method, path string, status, count int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, path: path, status: status, left: count, retryAfter: retryAfter})
}

// ClearFaults ends every fault set by Fail: the API answers again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// HideAfterCreate makes every integration created through the API answer
// GET with 404 n times, then show with active false once, then active
// (docs/aiven.md "REST shapes": "A freshly created integration may briefly
// answer 404, then show with active: false; active turns true when it is
// live").
func (s *Server) HideAfterCreate(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hideAfterCreate = n
}

// OnDeleteCCR sets a function the server calls when a CCR integration is
// deleted through the API, before it answers: an end-to-end test stops
// replication on the real follower there, as Aiven does. An error makes
// the delete fail with 500 and keeps the integration.
func (s *Server) OnDeleteCCR(f func(ctx context.Context, in Integration) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDeleteCCR = f
}

// DeleteAnswers204 makes a successful delete answer 204 without a body
// instead of 200 with a message (docs/aiven.md "REST shapes": "any 2xx").
func (s *Server) DeleteAnswers204() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteStatus = http.StatusNoContent
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Integration returns an integration by id.
func (s *Server) Integration(projectName, id string) (Integration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.project(projectName).integrations[id]
	if !ok {
		return Integration{}, false
	}
	return *in, true
}

// Integrations returns a project's integrations, by id.
func (s *Server) Integrations(projectName string) []Integration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Integration
	for _, in := range s.project(projectName).integrations {
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Authorization: aivenv1 <token> (go-client-codegen client.go; Aiven
	// API reference, "Authentication").
	authorized := r.Header.Get("Authorization") == "aivenv1 "+s.Token
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorized: authorized})
	s.mu.Unlock()
	if !authorized {
		writeError(w, http.StatusUnauthorized, "authentication_failed", "Invalid token")
		return
	}
	if f := s.takeFault(r); f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeError(w, f.status, "service_unavailable", http.StatusText(f.status)+": the fake's injected failure")
		return
	}
	// /v1/project/{project}/...
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/project/"), "/"), "/")
	proj := parts[0]
	rest := parts[1:]
	switch {
	case len(rest) == 1 && rest[0] == "service" && r.Method == http.MethodGet:
		s.listServices(w, r, proj)
	case len(rest) == 2 && rest[0] == "service" && r.Method == http.MethodGet:
		s.getService(w, proj, rest[1])
	case len(rest) == 3 && rest[0] == "service" && rest[2] == "integration" && r.Method == http.MethodGet:
		s.listServiceIntegrations(w, r, proj, rest[1])
	case len(rest) == 1 && rest[0] == "integration" && r.Method == http.MethodPost:
		s.createIntegration(w, r, proj)
	case len(rest) == 2 && rest[0] == "integration" && r.Method == http.MethodGet:
		s.getIntegration(w, proj, rest[1])
	case len(rest) == 2 && rest[0] == "integration" && r.Method == http.MethodDelete:
		s.deleteIntegration(w, r, proj, rest[1])
	case len(rest) >= 1 && (rest[0] == "service" || rest[0] == "integration"):
		// A known resource, a verb it lacks: the project-wide integration
		// list does not exist (go-client-codegen has no GET
		// /v1/project/{project}/integration; the service list carries
		// each service's integrations).
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed")
	default:
		writeError(w, http.StatusNotFound, "not_found", "Not found")
	}
}

func (s *Server) takeFault(r *http.Request) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.left > 0 && (f.method == "" || f.method == r.Method) && strings.Contains(r.URL.Path, f.path) {
			f.left--
			return f
		}
	}
	return nil
}

// writeError answers in Aiven's failed-response shape (docs/aiven.md "REST
// shapes"; go-client-codegen error.go): a message, and errors with the
// same message, an error code and the status.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"message": msg,
		"errors":  []map[string]any{{"error_code": code, "message": msg, "status": status}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// limit applies the "limit" query parameter to a list (go-client-codegen
// client.go sends limit=999 with every call).
func limit(r *http.Request, n int) int {
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l >= 0 && l < n {
		return l
	}
	return n
}

func (s *Server) projectOr404(w http.ResponseWriter, name string) *project {
	p := s.projects[name]
	if p == nil {
		writeError(w, http.StatusNotFound, "project_not_found", fmt.Sprintf("Project %s does not exist", name))
	}
	return p
}

// GET /v1/project/{project}/service -> {"services": [ServiceOut...]}
func (s *Server) listServices(w http.ResponseWriter, r *http.Request, proj string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, proj)
	if p == nil {
		return
	}
	names := make([]string, 0, len(p.services))
	for n := range p.services {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []map[string]any{}
	for _, n := range names[:limit(r, len(names))] {
		out = append(out, s.serviceJSON(proj, p, p.services[n], false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": out})
}

// GET /v1/project/{project}/service/{service} -> {"service": ServiceGetOut}
func (s *Server) getService(w http.ResponseWriter, proj, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, proj)
	if p == nil {
		return
	}
	svc := p.services[name]
	if svc == nil {
		writeError(w, http.StatusNotFound, "service_not_found", fmt.Sprintf("Service %s does not exist", name))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": s.serviceJSON(proj, p, svc, true)})
}

// GET /v1/project/{project}/service/{service}/integration ->
// {"service_integrations": [ServiceIntegrationOut...]}
func (s *Server) listServiceIntegrations(w http.ResponseWriter, r *http.Request, proj, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, proj)
	if p == nil {
		return
	}
	if p.services[name] == nil {
		writeError(w, http.StatusNotFound, "service_not_found", fmt.Sprintf("Service %s does not exist", name))
		return
	}
	list := s.integrationsOf(proj, p, name)
	writeJSON(w, http.StatusOK, map[string]any{"service_integrations": list[:limit(r, len(list))]})
}

// GET /v1/project/{project}/integration/{id} -> {"service_integration": ...}
func (s *Server) getIntegration(w http.ResponseWriter, proj, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, proj)
	if p == nil {
		return
	}
	in := p.integrations[id]
	if in == nil || p.hidden[id] > 0 {
		if in != nil {
			p.hidden[id]--
			if p.hidden[id] == 0 {
				p.hidden[id] = -1 // next read: shown, not active yet
			}
		}
		writeError(w, http.StatusNotFound, "service_integration_not_found", "Service integration not found")
		return
	}
	if p.hidden[id] < 0 {
		delete(p.hidden, id)
		shown := *in
		shown.Active, shown.Status = false, "starting"
		writeJSON(w, http.StatusOK, map[string]any{"service_integration": integrationJSON(&shown)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_integration": integrationJSON(in)})
}

// POST /v1/project/{project}/integration, body ServiceIntegrationCreateIn
// {"integration_type", "source_service", "dest_service"} (docs/aiven.md
// "What promote to standalone is" and "REST shapes") ->
// {"service_integration": ...}.
func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request, proj string) {
	var in struct {
		IntegrationType string `json:"integration_type"`
		SourceProject   string `json:"source_project"`
		SourceService   string `json:"source_service"`
		DestProject     string `json:"dest_project"`
		DestService     string `json:"dest_service"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, proj)
	if p == nil {
		return
	}
	if in.IntegrationType == "" || in.SourceService == "" || in.DestService == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "integration_type, source_service and dest_service are required")
		return
	}
	for _, n := range []string{in.SourceService, in.DestService} {
		if p.services[n] == nil {
			// The message go-client-codegen retry.go retries on a POST
			// (a service still settling).
			writeError(w, http.StatusNotFound, "service_not_found", fmt.Sprintf("Service %s does not exist", n))
			return
		}
	}
	for _, old := range p.integrations {
		if old.Type == in.IntegrationType && old.SourceService == in.SourceService && old.DestService == in.DestService {
			writeError(w, http.StatusConflict, "already_exists", "Service integration already exists")
			return
		}
	}
	if in.IntegrationType == IntegrationTypeCCR {
		for _, old := range p.integrations {
			if old.Type == IntegrationTypeCCR && old.DestService == in.DestService {
				writeError(w, http.StatusConflict, "already_exists", fmt.Sprintf("Service %s already has a cross cluster replication source", in.DestService))
				return
			}
		}
	}
	id := s.addIntegration(proj, Integration{Type: in.IntegrationType, SourceService: in.SourceService, DestService: in.DestService,
		Enabled: true, Status: "starting"}, false)
	created := p.integrations[id]
	created.Enabled = true
	if s.hideAfterCreate > 0 {
		p.hidden[id] = s.hideAfterCreate
	} else {
		created.Active, created.Status = true, "running"
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_integration": integrationJSON(created)})
	if s.hideAfterCreate > 0 {
		// Live once its 404s and its one inactive read are over.
		created.Active, created.Status = true, "running"
	}
}

// DELETE /v1/project/{project}/integration/{id} -> 200 {"message": ...}
// (or 204, DeleteAnswers204); 404 when there is no such integration.
func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request, proj, id string) {
	s.mu.Lock()
	p := s.projectOr404(w, proj)
	if p == nil {
		s.mu.Unlock()
		return
	}
	in := p.integrations[id]
	if in == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "service_integration_not_found", "Service integration not found")
		return
	}
	hook, copyIn := s.onDeleteCCR, *in
	s.mu.Unlock()

	if hook != nil && copyIn.Type == IntegrationTypeCCR {
		if err := hook(r.Context(), copyIn); err != nil {
			writeError(w, http.StatusInternalServerError, "internal_error", "Failed to delete service integration")
			return
		}
	}
	s.mu.Lock()
	delete(p.integrations, id)
	delete(p.hidden, id)
	status := s.deleteStatus
	s.mu.Unlock()
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, map[string]any{"message": "Service integration deleted"})
}

// integrationsOf lists the integrations a service is the source or
// destination of.
func (s *Server) integrationsOf(proj string, p *project, name string) []map[string]any {
	var ids []string
	for id, in := range p.integrations {
		if p.hidden[id] != 0 {
			continue // not visible yet
		}
		if (in.SourceService == name && in.SourceProject == proj) || (in.DestService == name && in.DestProject == proj) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, integrationJSON(p.integrations[id]))
	}
	return out
}

// integrationJSON is ServiceIntegrationOut (docs/aiven.md "REST shapes",
// <integration>; go-client-codegen ServiceIntegrationOut,
// IntegrationStatusOut, StateOut).
func integrationJSON(in *Integration) map[string]any {
	status := in.Status
	if status == "" {
		status = "unknown"
	}
	return map[string]any{
		"service_integration_id": in.ID,
		"integration_type":       in.Type,
		"source_project":         in.SourceProject,
		"source_service":         in.SourceService,
		"source_service_type":    "opensearch",
		"dest_project":           in.DestProject,
		"dest_service":           in.DestService,
		"dest_service_type":      "opensearch",
		"active":                 in.Active,
		"enabled":                in.Enabled,
		"description":            descriptionOf(in.Type),
		"user_config":            map[string]any{},
		"integration_status": map[string]any{
			"state": map[string]any{
				"status": status,
				"errors": []string{},
				"nodes":  map[string]any{},
			},
			"status_user_desc": statusDesc(status),
		},
	}
}

func descriptionOf(typ string) string {
	if typ == IntegrationTypeCCR {
		return "Replicate indices from the source OpenSearch service"
	}
	return "Integration of type " + typ
}

func statusDesc(status string) string {
	switch status {
	case "running":
		return "Integration is running"
	case "starting":
		return "Integration is starting"
	case "failed":
		return "Integration has failed"
	default:
		return "Integration status is " + status
	}
}

// serviceJSON is ServiceOut (list) or ServiceGetOut (get): docs/aiven.md
// "REST shapes" and go-client-codegen's required fields (cloud_name,
// create_time, group_list, plan, project_vpc_id, service_integrations,
// service_name, service_type, service_uri, state, termination_protection,
// update_time, user_config). update_time is RFC 3339 and never empty.
// service_uri and connection_info carry avnadmin's password, as the real
// API's do: drwatch must keep it out of what it prints. The full version in
// metadata.opensearch_version is this fake's assumption (the codegen types
// metadata as a free map); user_config.opensearch_version, the major, is
// Aiven's documented user config.
func (s *Server) serviceJSON(proj string, p *project, svc *Service, full bool) map[string]any {
	created := p.created[svc.Name].UTC().Format(time.RFC3339)
	uri := fmt.Sprintf("https://avnadmin:%s@%s:%d", svc.Password, svc.Host, svc.Port)
	nodes := []map[string]any{}
	for _, n := range svc.Nodes {
		nodes = append(nodes, map[string]any{"name": n.Name, "state": n.State, "availability_zone": "europe-west1-b", "progress_updates": []any{}})
	}
	major := svc.Version
	if i := strings.IndexByte(major, '.'); i > 0 {
		major = major[:i]
	}
	out := map[string]any{
		"service_name":             svc.Name,
		"service_type":             svc.Type,
		"service_type_description": "OpenSearch - Search & Analyze Data",
		"state":                    svc.State,
		"plan":                     svc.Plan,
		"cloud_name":               svc.Cloud,
		"cloud_description":        "Europe, Belgium - Google Cloud: Belgium",
		"create_time":              created,
		"update_time":              created,
		"group_list":               []string{"default"},
		"project_vpc_id":           nil,
		"termination_protection":   false,
		"node_count":               len(svc.Nodes),
		"node_states":              nodes,
		"service_uri":              uri,
		"service_uri_params": map[string]any{
			"host": svc.Host, "port": strconv.Itoa(svc.Port), "user": "avnadmin", "password": svc.Password,
		},
		"connection_info": map[string]any{
			"opensearch":                []string{uri},
			"opensearch_username":       "avnadmin",
			"opensearch_password":       svc.Password,
			"opensearch_dashboards_uri": fmt.Sprintf("https://avnadmin:%s@%s:443", svc.Password, svc.Host),
		},
		"components": []map[string]any{
			{"component": "opensearch", "host": svc.Host, "port": svc.Port, "route": "dynamic", "usage": "primary"},
			{"component": "opensearch_dashboards", "host": svc.Host, "port": 443, "route": "dynamic", "usage": "primary"},
		},
		"metadata":             map[string]any{"opensearch_version": svc.Version},
		"user_config":          map[string]any{"opensearch_version": major},
		"service_integrations": s.integrationsOf(proj, p, svc.Name),
	}
	if !full {
		delete(out, "service_type_description")
	}
	return out
}
