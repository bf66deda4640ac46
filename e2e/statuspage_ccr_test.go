//go:build e2e && ccr

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/testutil/markup"
)

// chromiumBin is Debian's chromium (deploy/deps.sh installs it).
const chromiumBin = "/usr/bin/chromium"

// A phone's viewport and a desktop's.
const (
	phone   = "412,915"
	desktop = "1280,900"
)

// pageState is what GET /api/v1/status says of the pair, parsed.
type pageState struct {
	State      string `json:"state"`
	ApprovalID string `json:"approval_id"`
}

func (d *daemon) pageState(t *testing.T) pageState {
	t.Helper()
	code, body := d.get(t, "/api/v1/status")
	var st struct {
		Pairs []struct {
			Name     string     `json:"name"`
			Decision *pageState `json:"decision"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 || len(st.Pairs) != 1 || st.Pairs[0].Name != "lab" || st.Pairs[0].Decision == nil {
		t.Fatalf("GET /api/v1/status: HTTP %d %v\n%s", code, err, body)
	}
	return *st.Pairs[0].Decision
}

// chromium runs headless Chromium on a fresh profile with args, and
// returns what it printed on stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(chromiumBin); err != nil {
		t.Fatalf("%s: %v: install Debian's chromium (apt-get install chromium) or run make deps", chromiumBin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromiumBin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// screenshot saves what Chromium shows of url in a window of size "w,h".
func screenshot(t *testing.T, url, size, file string) {
	t.Helper()
	chromium(t, "--window-size="+size, "--screenshot="+file, url)
	b, err := os.ReadFile(file)
	if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("chromium wrote no screenshot of %s to %s (%d bytes, %v)", url, file, len(b), err)
	}
}

// capture renders the page in a given state: the phone screenshot (and
// the desktop one), and the DOM Chromium built, saved and parsed. The
// status is read before and after: the page is checked against it only
// if it did not change meanwhile (otherwise it is taken again).
func capture(t *testing.T, d *daemon, dir, name string, withDesktop bool) (pageState, *markup.Node) {
	t.Helper()
	for try := 1; ; try++ {
		before := d.pageState(t)
		screenshot(t, d.base+"/", phone, filepath.Join(dir, name+".png"))
		if withDesktop {
			screenshot(t, d.base+"/", desktop, filepath.Join(dir, name+"-desktop.png"))
		}
		dom := chromium(t, "--window-size="+phone, "--dump-dom", d.base+"/")
		after := d.pageState(t)
		if before != after {
			if try == 3 {
				t.Fatalf("%s: the state kept changing while the page was rendered (%+v -> %+v)", name, before, after)
			}
			continue
		}
		writeFile(t, filepath.Join(dir, name+".html"), string(dom))
		doc, err := markup.Parse(string(dom), false)
		if err != nil {
			t.Fatalf("%s: the dumped DOM does not parse: %v\n%s", name, err, dom)
		}
		return after, doc
	}
}

// stateWords are the words the page shows for the states this test sees.
var stateWords = map[string]string{"healthy": "HEALTHY", "awaiting_approval": "AWAITING APPROVAL", "promoted": "PROMOTED"}

// checkPage asserts that the DOM shows the state the API reported.
func checkPage(t *testing.T, doc *markup.Node, st pageState, want string) *markup.Node {
	t.Helper()
	if st.State != want {
		t.Fatalf("the API says %s, want %s", st.State, want)
	}
	secs := doc.ByAttr("data-pair", "lab")
	if len(secs) != 1 {
		t.Fatalf("%d sections for pair lab in the page", len(secs))
	}
	s := secs[0]
	if s.Attrs["data-state"] != st.State {
		t.Errorf("the page's section says %q, the API %q", s.Attrs["data-state"], st.State)
	}
	badge := s.ByAttr("data-label", "state")
	if len(badge) != 1 || !strings.HasSuffix(badge[0].Text(), " "+stateWords[st.State]) {
		t.Errorf("state label %v, want %q", badge, stateWords[st.State])
	}
	return s
}

// The status page rendered by Chromium during a real failover: healthy,
// awaiting approval (semi-auto, leader killed), and promoted after an
// approval given through the page's own form. Screenshots and DOM dumps
// are the test's artefacts, in bin/artifacts/statuspage/.
func TestStatusPage(t *testing.T) {
	if _, err := os.Stat(chromiumBin); err != nil {
		t.Fatalf("%s: %v: install Debian's chromium (apt-get install chromium) or run make deps", chromiumBin, err)
	}
	dir := filepath.Join(repo, "bin", "artifacts", "statuspage")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	idx := replicated(t, "page", 2, 1)
	for _, ix := range idx {
		writeIDs(t, ix, 0, 20)
	}
	cfg, tokFile := decisionConfigIndices(t, "", "semi-auto", scope("page"))
	token := strings.TrimSpace(readFile(t, tokFile))
	d := startDaemon(t, cfg)
	for _, ix := range idx {
		d.waitMetric(t, 60*time.Second, fmt.Sprintf(`drwatch_replication_lag_operations{index=%q,pair="lab"}`, ix), "0")
	}
	d.waitMetric(t, 10*time.Second, `drwatch_rpo_guard_passing{pair="lab"}`, "1")

	st, doc := capture(t, d, dir, "healthy", false)
	s := checkPage(t, doc, st, "healthy")
	if doc.ID("approval-lab") != nil {
		t.Error("an approval section while healthy")
	}
	rows := map[string]string{}
	for _, tr := range s.ByName("tr") {
		if td := tr.ByName("td"); len(td) == 3 {
			rows[td[0].Text()] = td[1].Text()
		}
	}
	for _, ix := range idx {
		if rows[ix] != "0 ops" {
			t.Errorf("healthy page: lag of %s is %q, want 0 ops (rows %v)", ix, rows[ix], rows)
		}
	}

	killLeader(t)
	d.waitMetric(t, 20*time.Second, `drwatch_pair_state{pair="lab",state="awaiting_approval"}`, "1")
	st, doc = capture(t, d, dir, "awaiting_approval", true)
	s = checkPage(t, doc, st, "awaiting_approval")
	if st.ApprovalID == "" {
		t.Fatal("awaiting approval, and the API names no request")
	}
	ids := s.ByAttr("data-label", "approval-id")
	if len(ids) != 1 || ids[0].Text() != st.ApprovalID {
		t.Fatalf("the page's approval id %v, the API's %q", ids, st.ApprovalID)
	}
	wantCmd := fmt.Sprintf("drwatch approve --server %s --pair lab --id %s", d.base, st.ApprovalID)
	if c := s.ByAttr("data-label", "approve-command"); len(c) != 1 || c[0].Text() != wantCmd {
		t.Errorf("approve command %v, want %q", c, wantCmd)
	}

	// The page's approve form, filled in as a person would: first with a
	// wrong token (refused, nothing changes), then with the right one.
	form := approveForm(t, d)
	form.values.Set("reason", "e2e: approved on the status page")
	form.values.Set("by", "e2e")
	form.values.Set("token", "not-the-token")
	if code, _ := postForm(t, d.base+form.action, form.values); code != http.StatusUnauthorized {
		t.Fatalf("approve with a wrong token: HTTP %d, want 401", code)
	}
	if now := d.pageState(t); now != st {
		t.Fatalf("a refused approval changed the pair: %+v -> %+v", st, now)
	}
	form.values.Set("token", token)
	code, loc := postForm(t, d.base+form.action, form.values)
	if code != http.StatusSeeOther || loc != "/?done=approve&pair=lab#pair-lab" {
		t.Fatalf("approve through the page: HTTP %d, Location %q", code, loc)
	}
	d.waitMetric(t, 60*time.Second, `drwatch_pair_state{pair="lab",state="promoted"}`, "1")
	for _, ix := range idx {
		standalone(t, ix)
	}

	st, doc = capture(t, d, dir, "promoted", false)
	s = checkPage(t, doc, st, "promoted")
	tl := s.ByName("ol")
	if len(tl) != 1 || !strings.Contains(tl[0].Text(), "awaiting_approval → promoting approval_granted promotion_started") ||
		!strings.Contains(tl[0].Text(), "promotion approved by e2e (e2e: approved on the status page)") {
		t.Errorf("the timeline does not show the approval: %v", tl)
	}
	t.Logf("screenshots and DOM dumps in %s", dir)
}

type pageForm struct {
	action string
	values url.Values
}

// approveForm reads the approve form of the page's forms view: where it
// posts and its hidden fields.
func approveForm(t *testing.T, d *daemon) pageForm {
	t.Helper()
	code, body := d.get(t, "/?act=lab")
	doc, err := markup.Parse(body, true)
	if err != nil || code != 200 {
		t.Fatalf("GET /?act=lab: HTTP %d %v", code, err)
	}
	forms := doc.ByAttr("data-action", "approve")
	if len(forms) != 1 {
		t.Fatalf("%d approve forms on /?act=lab", len(forms))
	}
	f := pageForm{action: forms[0].Attrs["action"], values: url.Values{}}
	for _, in := range forms[0].ByName("input") {
		if in.Attrs["type"] == "hidden" {
			f.values.Set(in.Attrs["name"], in.Attrs["value"])
		}
	}
	if f.action != "/ui/pairs/lab/approve" || !reflect.DeepEqual(f.values, url.Values{"id": {d.pageState(t).ApprovalID}}) {
		t.Fatalf("approve form: action %q, hidden %v", f.action, f.values)
	}
	return f
}

// postForm posts a form as a browser does, without following the redirect.
func postForm(t *testing.T, u string, v url.Values) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}
