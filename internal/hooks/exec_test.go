package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
)

func execHookOf(t *testing.T, script string) Hook {
	t.Helper()
	h, err := Build(&config.Hook{Name: "x", Type: "exec", Command: []string{"/bin/sh", "-c", script}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestExecGetsTheEventOnStdinAndInItsEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FOLLOWER_PASSWORD", "hunter2-daemon-secret")
	h := execHookOf(t, "cat > "+dir+"/stdin; env > "+dir+"/env")
	e := ev("approval_required")
	e.Approval = &Approval{ID: "orders-abc", ApproveCommand: "drwatch approve --server http://d:9464 --pair orders --id orders-abc"}
	if err := h.Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var got Event
	b, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin is not the event as JSON: %v: %s", err, b)
	}
	if got.Event != "approval_required" || got.Approval == nil || got.Approval.ID != "orders-abc" {
		t.Fatalf("stdin event = %+v", got)
	}
	envs, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, want := range []string{"DRWATCH_EVENT=approval_required", "DRWATCH_PAIR=orders", "DRWATCH_APPROVAL_ID=orders-abc",
		"DRWATCH_INCIDENT_KEY=drwatch/orders/outage", "DRWATCH_ACTION=trigger"} {
		if !strings.Contains(string(envs), want+"\n") {
			t.Errorf("environment lacks %s", want)
		}
	}
	if strings.Contains(string(envs), "hunter2") {
		t.Error("the daemon's environment (and its password_env secret) leaked into the hook's")
	}
}

func TestExecFailures(t *testing.T) {
	cases := []struct {
		name      string
		script    string
		timeout   time.Duration
		retryable bool
		want      string
	}{
		{"exit 1 is final", "echo nope >&2; exit 1", time.Second, false, "exited with status 1: nope"},
		{"exit 75 asks for a retry", "exit 75", time.Second, true, "status 75"},
		{"a timeout is retried and kills the process group", "sleep 30 & sleep 30", 200 * time.Millisecond, true, "timed out"},
		{"a missing program is final", "", time.Second, false, "could not run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := execHookOf(t, c.script)
			if c.script == "" {
				h, _ = Build(&config.Hook{Name: "x", Type: "exec", Command: []string{"/nonexistent/flip-dns"}}, Deps{})
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			start := time.Now()
			err := h.Deliver(ctx, ev("promotion_succeeded"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if r, _ := Retryable(err); r != c.retryable {
				t.Errorf("retryable = %v, want %v", r, c.retryable)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s: the killed command's children kept it waiting", took)
			}
		})
	}
}

func TestVetoFailsClosed(t *testing.T) {
	cases := []struct {
		name    string
		script  string
		timeout time.Duration
		veto    string // "" allows
	}{
		{"exit 0 allows", "test \"$DRWATCH_VETO\" = 1 && test \"$DRWATCH_EVENT\" = promotion_started", time.Second, ""},
		{"non-zero vetoes with the last line as reason", "echo checking; echo change freeze until 06:00; exit 3", time.Second, "change freeze until 06:00 (exit status 3)"},
		{"a hang vetoes", "sleep 30", 200 * time.Millisecond, "timed out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := execHookOf(t, c.script).(Vetoer)
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			err := h.Veto(ctx, ev("promotion_started"))
			if c.veto == "" {
				if err != nil {
					t.Fatalf("vetoed: %v", err)
				}
				return
			}
			var ve *VetoError
			if !errors.As(err, &ve) || !strings.Contains(ve.Reason, c.veto) || ve.Hook != "x" {
				t.Fatalf("err = %v, want a veto by x saying %q", err, c.veto)
			}
		})
	}
}

func TestDispatcherVeto(t *testing.T) {
	veto := execHookOf(t, "echo no; exit 1")
	plain := &fakeHook{name: "pd"}
	d := Start([]Entry{
		{Hook: veto, Events: []string{"promotion_started"}, Veto: true, Timeout: time.Second},
		{Hook: plain, Events: []string{"promotion_started"}},
	}, Options{})
	if !d.HasVeto("promotion_started") {
		t.Fatal("HasVeto = false")
	}
	err := d.Veto(context.Background(), ev("promotion_started"))
	var ve *VetoError
	if !errors.As(err, &ve) || ve.Reason != "no (exit status 1)" {
		t.Fatalf("Veto = %v", err)
	}
	// promotion_started is not queued again for the veto hook; the
	// plain hook gets it.
	d.Notify(ev("promotion_started"))
	d.Close(context.Background())
	if plain.calls() != 1 {
		t.Fatalf("plain hook got %d, want 1", plain.calls())
	}
	var none *Dispatcher
	if err := none.Veto(context.Background(), ev("promotion_started")); err != nil {
		t.Fatalf("no dispatcher vetoes nothing: %v", err)
	}
}

// A hook that exits 0 and leaves a background child holding its output
// succeeded (and, as a veto hook, allows).
func TestExecExitZeroWithABackgroundChild(t *testing.T) {
	h := execHookOf(t, "sleep 30 & exit 0")
	if err := h.Deliver(context.Background(), ev("promotion_succeeded")); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if err := h.(Vetoer).Veto(context.Background(), ev("promotion_started")); err != nil {
		t.Fatalf("Veto: %v", err)
	}
}
