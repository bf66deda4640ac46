package fakeaiven_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/testutil/fakeaiven"
)

func get(t *testing.T, f *fakeaiven.Server, method, path, auth string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	var body map[string]any
	if rsp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(rsp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: not JSON: %v", method, path, err)
		}
	}
	return rsp.StatusCode, body
}

// TestShapes checks the raw answers against docs/aiven.md "REST shapes" and the
// wrappers of go-client-codegen handler/service/service.go.
func TestShapes(t *testing.T) {
	f := fakeaiven.New(t, "tok-123456")
	f.AddService("acme", fakeaiven.Service{Name: "os-prod", Password: "pw"})
	f.AddService("acme", fakeaiven.Service{Name: "os-dr", Password: "pw"})
	id := f.AddIntegration("acme", fakeaiven.Integration{Type: fakeaiven.IntegrationTypeCCR, SourceService: "os-prod", DestService: "os-dr"})
	auth := "aivenv1 tok-123456"

	// Without the token, or with another scheme: 401 in Aiven's error shape.
	for _, a := range []string{"", "Bearer tok-123456", "aivenv1 other"} {
		status, body := get(t, f, "GET", "/v1/project/acme/service", a)
		errs, _ := body["errors"].([]any)
		if status != 401 || body["message"] == "" || len(errs) != 1 || errs[0].(map[string]any)["status"] != float64(401) {
			t.Errorf("auth %q: %d %v", a, status, body)
		}
	}

	status, body := get(t, f, "GET", "/v1/project/acme/service?limit=999", auth)
	svcs, _ := body["services"].([]any)
	if status != 200 || len(svcs) != 2 {
		t.Fatalf("list: %d %v", status, body)
	}
	svc := svcs[1].(map[string]any)
	for _, k := range []string{"service_name", "service_type", "state", "plan", "cloud_name", "create_time", "update_time",
		"service_uri", "node_states", "service_integrations", "user_config", "termination_protection", "group_list", "project_vpc_id"} {
		if _, ok := svc[k]; !ok {
			t.Errorf("service lacks %s", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, svc["update_time"].(string)); err != nil {
		t.Errorf("update_time: %v", err)
	}

	status, body = get(t, f, "GET", "/v1/project/acme/service/os-dr", auth)
	if status != 200 || body["service"].(map[string]any)["state"] != "RUNNING" {
		t.Errorf("get: %d %v", status, body)
	}
	status, body = get(t, f, "GET", "/v1/project/acme/service/os-dr/integration", auth)
	list, _ := body["service_integrations"].([]any)
	if status != 200 || len(list) != 1 {
		t.Fatalf("service integrations: %d %v", status, body)
	}
	in := list[0].(map[string]any)
	for _, k := range []string{"service_integration_id", "integration_type", "source_project", "source_service", "source_service_type",
		"dest_project", "dest_service", "dest_service_type", "active", "enabled", "description", "user_config", "integration_status"} {
		if _, ok := in[k]; !ok {
			t.Errorf("integration lacks %s", k)
		}
	}
	st := in["integration_status"].(map[string]any)["state"].(map[string]any)
	if st["status"] != "running" {
		t.Errorf("integration_status = %v", in["integration_status"])
	}
	status, body = get(t, f, "GET", "/v1/project/acme/integration/"+id, auth)
	if status != 200 || body["service_integration"].(map[string]any)["service_integration_id"] != id {
		t.Errorf("get integration: %d %v", status, body)
	}
	// No project-wide integration list: the API has none.
	if status, _ = get(t, f, "GET", "/v1/project/acme/integration", auth); status != 405 {
		t.Errorf("GET /integration = %d", status)
	}
	status, body = get(t, f, "GET", "/v1/project/acme/service/none", auth)
	if status != 404 || !strings.Contains(body["message"].(string), "Service none does not exist") {
		t.Errorf("unknown service: %d %v", status, body)
	}

	f.Fail("GET", "/service/os-dr", 503, 1, "1")
	if status, body = get(t, f, "GET", "/v1/project/acme/service/os-dr", auth); status != 503 || body["errors"] == nil {
		t.Errorf("injected: %d %v", status, body)
	}
	if status, _ = get(t, f, "GET", "/v1/project/acme/service/os-dr", auth); status != 200 {
		t.Errorf("after the injected failure: %d", status)
	}

	if status, body = get(t, f, "DELETE", "/v1/project/acme/integration/"+id, auth); status != 200 || body["message"] == nil {
		t.Errorf("delete: %d %v", status, body)
	}
	if status, _ = get(t, f, "DELETE", "/v1/project/acme/integration/"+id, auth); status != 404 {
		t.Errorf("second delete: %d", status)
	}
	if status, body = get(t, f, "GET", "/v1/project/acme/service/os-dr/integration", auth); len(body["service_integrations"].([]any)) != 0 {
		t.Errorf("after delete: %d %v", status, body)
	}
}
