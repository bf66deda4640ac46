package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drwatch/drwatch/internal/hooks"
)

func TestHooksTestSendsAMarkedEvent(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "event.json")
	cfg := writeCfg(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	b, _ := os.ReadFile(cfg)
	b = append(b, []byte(`external_url: https://drwatch.example.com
hooks:
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

	code, out, errOut := run("hooks", "test", "--config", cfg)
	if code != 1 || !strings.Contains(out, "record") || !strings.Contains(out, "delivered") ||
		!strings.Contains(out, "broken") || !strings.Contains(out, "FAILED: exited with status 1: no route to pager") {
		t.Fatalf("hooks test: exit %d\n%s\n%s", code, out, errOut)
	}
	var ev hooks.Event
	raw, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("the hook got no JSON event: %v: %s", err, raw)
	}
	if !ev.Test || ev.Event != "test" || ev.Pair != "orders" || !strings.HasPrefix(ev.Title(), "TEST - ") ||
		ev.IncidentKey != "drwatch/orders/test" || ev.StatusURL != "https://drwatch.example.com/" {
		t.Fatalf("test event %+v", ev)
	}

	if code, out, _ := run("hooks", "test", "--config", cfg, "--hook", "record"); code != 0 || strings.Contains(out, "broken") {
		t.Fatalf("--hook record: exit %d\n%s", code, out)
	}
	if code, _, errOut := run("hooks", "test", "--config", cfg, "--hook", "pager"); code != 2 || !strings.Contains(errOut, `no hook "pager"`) || !strings.Contains(errOut, "record, broken") {
		t.Fatalf("--hook pager: exit %d\n%s", code, errOut)
	}
	if code, _, _ := run("hooks", "send"); code != 2 {
		t.Fatalf("hooks send: exit %d", code)
	}
}
