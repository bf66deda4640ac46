//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	drconfig "github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/hooks"
)

// alertmanagerBinary finds a real Alertmanager: $DRWATCH_ALERTMANAGER,
// or prometheus-alertmanager (Debian's name) or alertmanager on PATH.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DRWATCH_ALERTMANAGER"); p != "" {
		return p
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Alertmanager to test against: apt-get install prometheus-alertmanager (or run make deps), " +
		"or set DRWATCH_ALERTMANAGER to an alertmanager binary")
	return ""
}

// startAlertmanager runs a single Alertmanager (no cluster, a receiver
// that sends nothing) on a free loopback port until the test ends, and
// returns its URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, cfg, "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager's log:\n%s", out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", bin, out.String())
		default:
		}
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on %s after 30s:\n%s", bin, addr, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// amAlert is a gettableAlert of Alertmanager's API v2.
type amAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts lists the alerts Alertmanager returns for the incident key,
// with query parameters added (e.g. active=true).
func amAlerts(t *testing.T, base, key string, params url.Values) []amAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("incident_key=%q", key)}}
	maps.Copy(q, params)
	resp, err := http.Get(base + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %s: %s", resp.Status, b.String())
	}
	var as []amAlert
	if err := json.Unmarshal(b.Bytes(), &as); err != nil {
		t.Fatalf("GET /api/v2/alerts: not a JSON array of alerts: %v: %s", err, b.String())
	}
	return as
}

func labEvent(name, summary string) hooks.Event {
	e := hooks.Event{ID: name + "-e2e", Event: name, Pair: "lab", State: "leader_down", At: time.Now().UTC(), Summary: summary, Source: "e2e"}
	if !hooks.Classify(&e) {
		panic("unknown event " + name)
	}
	return e
}

// A real Alertmanager 0.25 fires the outage drwatch triggers, keeps it
// firing past its first endsAt because the hook re-sends it, and resolves
// it on the resolve. 0.25 lists no resolved alert: GET /api/v2/alerts
// skips an alert whose endsAt has passed, active filter or not. The
// control: a test alert, sent once with the same endsAt, ends by itself.
func TestAlertmanagerIncidentOpensStaysAndResolves(t *testing.T) {
	base := startAlertmanager(t)
	const resend = time.Second
	h, err := hooks.Build(&drconfig.Hook{Name: "am", Type: "alertmanager", URL: base, Timeout: drconfig.Duration(5 * time.Second)},
		hooks.Deps{Resend: resend})
	if err != nil {
		t.Fatal(err)
	}
	d := hooks.Start([]hooks.Entry{{Hook: h, Events: []string{"leader_down"}, Timeout: 5 * time.Second}}, hooks.Options{MaxAttempts: 3})
	t.Cleanup(func() { d.Close(context.Background()) })
	send := func(e hooks.Event) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out := d.Send(ctx, "am", e, nil)
		if len(out) != 1 || out[0].Err != nil {
			t.Fatalf("delivering %s: %+v", e.Event, out)
		}
	}

	down := labEvent("leader_down", "leader down (e2e)")
	key := down.IncidentKey
	send(down)
	// The control, sent at the same time: not re-sent.
	test := hooks.Event{ID: "test-e2e", Event: "test", Pair: "lab", Test: true, Summary: "hooks test (e2e)", At: time.Now().UTC()}
	send(test)
	testKey := hooks.Key("lab", hooks.KindTest)

	var fired amAlert
	eventually(t, 10*time.Second, "the outage alert active in Alertmanager", func() bool {
		as := amAlerts(t, base, key, url.Values{"active": {"true"}})
		if len(as) == 1 && as[0].Status.State == "active" {
			fired = as[0]
			return true
		}
		return false
	})
	wantLabels := map[string]string{"alertname": "DrwatchLeaderOutage", "pair": "lab", "severity": "critical",
		"incident_key": key, "source": "drwatch"}
	if !maps.Equal(fired.Labels, wantLabels) {
		t.Fatalf("labels %v, want %v", fired.Labels, wantLabels)
	}
	if d := time.Until(fired.EndsAt); d <= 0 || d > 4*resend {
		t.Fatalf("endsAt %s: want about 3 re-send intervals (%s) ahead", fired.EndsAt, 3*resend)
	}
	if as := amAlerts(t, base, testKey, nil); len(as) != 1 || as[0].Labels["alertname"] != "DrwatchHookTest" {
		t.Fatalf("the test alert: %+v", as)
	}

	// Past the first endsAt: the re-sent outage is active, with endsAt
	// moved on; the test alert, sent once, has ended.
	time.Sleep(time.Until(fired.EndsAt) + 1500*time.Millisecond)
	as := amAlerts(t, base, key, url.Values{"active": {"true"}})
	if len(as) != 1 || as[0].Status.State != "active" || !as[0].EndsAt.After(fired.EndsAt) || !maps.Equal(as[0].Labels, wantLabels) {
		t.Fatalf("past its first endsAt %s the outage is %+v: want it active, its endsAt moved on", fired.EndsAt, as)
	}
	if !as[0].StartsAt.Equal(fired.StartsAt) {
		t.Errorf("startsAt moved from %s to %s", fired.StartsAt, as[0].StartsAt)
	}
	if as := amAlerts(t, base, testKey, nil); len(as) != 0 {
		t.Fatalf("the test alert sent once is still listed past its endsAt: %+v (the control failed: Alertmanager did not end it)", as)
	}

	up := labEvent("leader_recovered", "leader recovered (e2e)")
	up.State = "healthy"
	send(up)
	eventually(t, 10*time.Second, "the outage alert resolved", func() bool {
		return len(amAlerts(t, base, key, url.Values{"active": {"true"}})) == 0 && len(amAlerts(t, base, key, nil)) == 0
	})
	// And it stays resolved: the hook no longer re-sends it.
	time.Sleep(2 * resend)
	if as := amAlerts(t, base, key, nil); len(as) != 0 {
		t.Fatalf("the resolved outage is back: %+v", as)
	}
}
