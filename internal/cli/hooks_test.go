package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drwatch/drwatch/internal/hooks"
)

func TestHooksTestSendsAMarkedEvent(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "event.json")
	var mu sync.Mutex
	var posted []hooks.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev hooks.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		mu.Lock()
		posted = append(posted, ev)
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := writeCfg(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	b, _ := os.ReadFile(cfg)
	b = append(b, []byte(`external_url: https://drwatch.example.com
hooks:
  - name: audit
    type: webhook
    url: `+srv.URL+`
    events: [promotion_succeeded]
  - name: record
    type: exec
    command: ["/bin/sh", "-c", "cat > `+got+`"]
    events: [leader_down]
  - name: broken
    type: exec
    command: ["/bin/sh", "-c", "echo no route to pager >&2; exit 1"]
    events: [leader_down]
`)...)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// Without --hook: every hook but the exec ones, which may act.
	code, out, errOut := run("hooks", "test", "--config", cfg)
	if code != 0 || !strings.Contains(out, "audit") || !strings.Contains(out, "delivered") ||
		!strings.Contains(out, "record               skipped: an exec hook may act whatever the event; run it with --hook record") {
		t.Fatalf("hooks test: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(got); err == nil {
		t.Fatal("an exec hook ran without being named")
	}
	mu.Lock()
	if len(posted) != 1 || !posted[0].Test || posted[0].Event != "test" || posted[0].Pair != "orders" ||
		!strings.HasPrefix(posted[0].Title(), "TEST - ") || posted[0].IncidentKey != "drwatch/orders/test" ||
		posted[0].StatusURL != "https://drwatch.example.com/" {
		t.Fatalf("the webhook got %+v", posted)
	}
	mu.Unlock()

	// Named, an exec hook runs with the test event.
	if code, out, _ := run("hooks", "test", "--config", cfg, "--hook", "record"); code != 0 || strings.Contains(out, "audit") {
		t.Fatalf("--hook record: exit %d\n%s", code, out)
	}
	var ev hooks.Event
	raw, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ev); err != nil || !ev.Test {
		t.Fatalf("the exec hook got %v: %s", err, raw)
	}
	if code, out, _ := run("hooks", "test", "--config", cfg, "--hook", "broken"); code != 1 ||
		!strings.Contains(out, "FAILED: exited with status 1: no route to pager") {
		t.Fatalf("--hook broken: exit %d\n%s", code, out)
	}
	if code, _, errOut := run("hooks", "test", "--config", cfg, "--hook", "pager"); code != 2 || !strings.Contains(errOut, `no hook "pager"`) || !strings.Contains(errOut, "audit, record, broken") {
		t.Fatalf("--hook pager: exit %d\n%s", code, errOut)
	}
	if code, _, _ := run("hooks", "send"); code != 2 {
		t.Fatalf("hooks send: exit %d", code)
	}
}
