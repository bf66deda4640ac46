package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With ha, drwatch drill release goes through the daemon; a release the
// daemon queued for the lease holder (202) exits 0, as every action does.
func TestDrillReleaseQueuedExitsZero(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"pair":"orders","action":"release","state":"promoted","error":"queued for the lease holder: this daemon is standby and passed the command to dr-b"}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("s3cret-token-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "drwatch.yml")
	cfg := fmt.Sprintf("state_dir: %s\nexternal_url: %s\napi: {token_file: %s}\nha: {enabled: true, identity: dr-a}\npairs:\n  - name: orders\n    leader: {url: http://127.0.0.1:1}\n    follower: {url: http://127.0.0.1:2, leader_alias: leader}\n",
		filepath.Join(dir, "state"), srv.URL, tok)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runIn("drill", "release", "--config", path, "--pair", "orders")
	if code != ExitOK {
		t.Fatalf("a release queued for the holder (HTTP 202) exits %d: %s %s", code, out, strings.TrimSpace(errOut))
	}
}
