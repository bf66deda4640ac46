package aiven

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/aiven/go-client-codegen/handler/service"
)

// Service states (go-client-codegen service.ServiceStateType).
const (
	StateRunning     = string(service.ServiceStateTypeRunning)
	StateRebuilding  = string(service.ServiceStateTypeRebuilding)
	StatePoweroff    = string(service.ServiceStateTypePoweroff)
	StateRebalancing = string(service.ServiceStateTypeRebalancing)
)

// Service is what drwatch reads of an Aiven service. It holds no
// credential: the API's service_uri and connection_info carry the admin
// password, and are reduced here to a URL without it.
type Service struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	Type    string `json:"type"`  // "opensearch"
	State   string `json:"state"` // RUNNING, REBUILDING, POWEROFF, REBALANCING
	Plan    string `json:"plan"`
	Cloud   string `json:"cloud,omitempty"`
	// Version is the OpenSearch version: metadata.opensearch_version when
	// the API gives it, else user_config.opensearch_version (the major).
	Version string `json:"version,omitempty"`
	// URL is the service's HTTPS address (scheme, host, port), without
	// credentials; "" when the API gave none.
	URL string `json:"url,omitempty"`
	// Username is the user of service_uri (avnadmin), if any.
	Username     string        `json:"username,omitempty"`
	Nodes        []Node        `json:"nodes,omitempty"`
	Integrations []Integration `json:"-"`
	UpdateTime   time.Time     `json:"update_time"`
}

// Node is one node of a service (node_states).
type Node struct {
	Name  string `json:"name"`
	State string `json:"state"` // running, leaving, setting_up_vm, syncing_data, timing_out, unknown
	Role  string `json:"role,omitempty"`
}

// Integration is a service integration.
type Integration struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	SourceProject string `json:"source_project"`
	SourceService string `json:"source_service"`
	DestProject   string `json:"dest_project"`
	DestService   string `json:"dest_service"`
	Active        bool   `json:"active"`
	Enabled       bool   `json:"enabled"`
	// Status is integration_status.state.status: running, starting,
	// failed, inactive, unknown ("" when the API gave none).
	Status     string   `json:"status,omitempty"`
	StatusDesc string   `json:"status_description,omitempty"`
	Errors     []string `json:"errors,omitempty"`
}

// IsCCR reports whether the integration is cross-cluster replication.
func (i Integration) IsCCR() bool { return i.Type == IntegrationTypeCCR }

func integrationFrom(o *service.ServiceIntegrationOut) Integration {
	in := Integration{
		ID: o.ServiceIntegrationId, Type: string(o.IntegrationType),
		SourceProject: o.SourceProject, SourceService: o.SourceService,
		DestProject: o.DestProject, Active: o.Active, Enabled: o.Enabled,
	}
	if o.DestService != nil {
		in.DestService = *o.DestService
	}
	if s := o.IntegrationStatus; s != nil {
		in.Status, in.StatusDesc, in.Errors = string(s.State.Status), s.StatusUserDesc, s.State.Errors
	}
	return in
}

// rawService is the part of ServiceOut and ServiceGetOut drwatch reads
// (the two types differ in connection_info and service_uri_params).
type rawService struct {
	name, typ, state, plan, cloud string
	components                    []service.ComponentOut
	uri, uriUser                  string
	connURIs                      []string
	metadata, userConfig          map[string]any
	nodes                         []service.NodeStateOut
	integrations                  []service.ServiceIntegrationOut
	updated                       time.Time
}

func serviceFromList(project string, o *service.ServiceOut) Service {
	r := rawService{name: o.ServiceName, typ: o.ServiceType, state: string(o.State), plan: o.Plan, cloud: o.CloudName,
		components: o.Components, uri: o.ServiceUri, metadata: o.Metadata, userConfig: o.UserConfig,
		nodes: o.NodeStates, integrations: o.ServiceIntegrations, updated: o.UpdateTime}
	if u, ok := o.ServiceUriParams["user"].(string); ok {
		r.uriUser = u
	}
	if list, ok := o.ConnectionInfo["opensearch"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				r.connURIs = append(r.connURIs, s)
			}
		}
	}
	return r.service(project)
}

func serviceFromGet(project string, o *service.ServiceGetOut) Service {
	r := rawService{name: o.ServiceName, typ: o.ServiceType, state: string(o.State), plan: o.Plan, cloud: o.CloudName,
		components: o.Components, uri: o.ServiceUri, uriUser: o.ServiceUriParams["user"], metadata: o.Metadata,
		userConfig: o.UserConfig, nodes: o.NodeStates, integrations: o.ServiceIntegrations, updated: o.UpdateTime}
	if o.ConnectionInfo != nil {
		r.connURIs = o.ConnectionInfo.Opensearch
	}
	return r.service(project)
}

func (r rawService) service(project string) Service {
	s := Service{Project: project, Name: r.name, Type: r.typ, State: r.state, Plan: r.plan, Cloud: r.cloud,
		Version: version(r.metadata, r.userConfig), UpdateTime: r.updated}
	s.URL, s.Username = address(r)
	for _, n := range r.nodes {
		s.Nodes = append(s.Nodes, Node{Name: n.Name, State: string(n.State), Role: string(n.Role)})
	}
	for i := range r.integrations {
		s.Integrations = append(s.Integrations, integrationFrom(&r.integrations[i]))
	}
	return s
}

func version(metadata, userConfig map[string]any) string {
	for _, m := range []map[string]any{metadata, userConfig} {
		switch v := m["opensearch_version"].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ""
}

// address is the service's OpenSearch URL without credentials: the public
// "opensearch" component when there is one (components carry host and
// port, no password), else service_uri or connection_info.opensearch with
// the user info stripped. The password in them never leaves this function.
func address(r rawService) (addr, user string) {
	user = r.uriUser
	for _, c := range r.components {
		if c.Component == "opensearch" && (c.Route == service.RouteTypeDynamic || c.Route == service.RouteTypePublic) &&
			(c.Usage == "" || c.Usage == service.UsageTypePrimary) && c.Host != "" {
			addr = fmt.Sprintf("https://%s:%d", c.Host, c.Port)
			break
		}
	}
	for _, raw := range append([]string{r.uri}, r.connURIs...) {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		if user == "" && u.User != nil {
			user = u.User.Username()
		}
		if addr == "" {
			addr = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
		}
	}
	return addr, user
}

// uniqueIntegrations collects the integrations of services, each once
// (an integration shows on its source and on its destination), by id.
func uniqueIntegrations(svcs []Service) []Integration {
	seen := map[string]bool{}
	var out []Integration
	for _, s := range svcs {
		for _, in := range s.Integrations {
			if seen[in.ID] {
				continue
			}
			seen[in.ID] = true
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
