package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDirs lays out a repo beside ../shared/ccr-plugin and a cache.
type pluginDirs struct {
	cfg    Config
	shared string // the shared zip's path
	cached string // the cached zip's path
}

func newPluginDirs(t *testing.T, env map[string]string) pluginDirs {
	t.Helper()
	root := t.TempDir()
	repo := filepath.Join(root, "main")
	if env == nil {
		env = map[string]string{}
	}
	env["LAB_DIR"] = filepath.Join(root, "lab")
	cfg, err := FromEnv(repo, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{cfg.SharedCCRDir, cfg.Cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return pluginDirs{cfg: cfg, shared: cfg.sharedPluginZip(), cached: cfg.cachedPluginZip()}
}

func writeZipFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256([]byte(content))
	return hex.EncodeToString(s[:])
}

func writeSums(t *testing.T, d pluginDirs, line string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d.cfg.SharedCCRDir, "SHA256SUMS"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocatePluginOrder(t *testing.T) {
	own := filepath.Join(t.TempDir(), "mine.zip")
	writeZipFile(t, own, "mine")

	// 1. DRWATCH_CCR_PLUGIN_ZIP wins over a good shared zip and the cache.
	d := newPluginDirs(t, map[string]string{"DRWATCH_CCR_PLUGIN_ZIP": own})
	sum := writeZipFile(t, d.shared, "shared")
	writeSums(t, d, sum+"  "+filepath.Base(d.shared)+"\n")
	writeZipFile(t, d.cached, "cached")
	if p, src, err := d.cfg.LocatePlugin(); err != nil || p != own || src != PluginFromEnv {
		t.Errorf("with DRWATCH_CCR_PLUGIN_ZIP: %q %q %v", p, src, err)
	}

	// 2. the verified shared zip wins over the cache.
	d.cfg.PluginZip = ""
	if p, src, err := d.cfg.LocatePlugin(); err != nil || p != d.shared || src != PluginFromShared {
		t.Errorf("shared: %q %q %v", p, src, err)
	}

	// 3. the cache, when there is no shared zip.
	if err := os.Remove(d.shared); err != nil {
		t.Fatal(err)
	}
	if p, src, err := d.cfg.LocatePlugin(); err != nil || p != d.cached || src != PluginFromCache {
		t.Errorf("cache: %q %q %v", p, src, err)
	}

	// 4. none.
	if err := os.Remove(d.cached); err != nil {
		t.Fatal(err)
	}
	if p, _, err := d.cfg.LocatePlugin(); err != nil || p != "" {
		t.Errorf("none: %q %v", p, err)
	}
	if ok, err := d.cfg.HasCCRPlugin(); ok || err != nil {
		t.Errorf("HasCCRPlugin with none = %v %v", ok, err)
	}
}

func TestLocatePluginEnvMissing(t *testing.T) {
	d := newPluginDirs(t, map[string]string{"DRWATCH_CCR_PLUGIN_ZIP": "/nonexistent/ccr.zip"})
	writeZipFile(t, d.cached, "cached")
	_, _, err := d.cfg.LocatePlugin()
	if err == nil || !strings.Contains(err.Error(), "DRWATCH_CCR_PLUGIN_ZIP=/nonexistent/ccr.zip does not exist") {
		t.Errorf("err = %v: a named zip that is missing is an error, not a fallback", err)
	}
}

func TestLocatePluginSharedChecksum(t *testing.T) {
	for _, tc := range []struct {
		name string
		sums func(d pluginDirs, good string) string // "" = no SHA256SUMS
		want string
	}{
		{"mismatch", func(d pluginDirs, _ string) string {
			return strings.Repeat("ab", 32) + "  " + filepath.Base(d.shared) + "\n"
		}, "the zip is damaged or was replaced"},
		{"no line for the zip", func(_ pluginDirs, good string) string { return good + "  other.zip\n" }, "has no line for"},
		{"no SHA256SUMS", func(pluginDirs, string) string { return "" }, "SHA256SUMS is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newPluginDirs(t, nil)
			good := writeZipFile(t, d.shared, "shared")
			writeZipFile(t, d.cached, "cached")
			if s := tc.sums(d, good); s != "" {
				writeSums(t, d, s)
			}
			p, _, err := d.cfg.LocatePlugin()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LocatePlugin = %q, %v; want an error saying %q (never the cache)", p, err, tc.want)
			}
		})
	}
	t.Run("binary-mode line", func(t *testing.T) {
		d := newPluginDirs(t, nil)
		good := writeZipFile(t, d.shared, "shared")
		writeSums(t, d, "# comment\n"+strings.ToUpper(good)+" *"+filepath.Base(d.shared)+"\n")
		if p, src, err := d.cfg.LocatePlugin(); err != nil || src != PluginFromShared || p != d.shared {
			t.Errorf("%q %q %v", p, src, err)
		}
	})
}

func TestFetchPluginWithoutOne(t *testing.T) {
	for _, ci := range []bool{true, false} {
		env := map[string]string{"MVN": "/nonexistent/mvn"}
		if ci {
			env["CI"] = "true"
		}
		d := newPluginDirs(t, env)
		var log bytes.Buffer
		l, err := Open(d.cfg, &log)
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.fetchPlugin(context.Background())
		if p != "" {
			t.Errorf("CI=%v: plugin %q from nowhere", ci, p)
		}
		out := log.String()
		for _, want := range []string{"No cross-cluster-replication plugin zip for OpenSearch 2.19.3 was found", d.shared, d.cached, "set DRWATCH_CCR_PLUGIN_ZIP"} {
			if !strings.Contains(out, want) {
				t.Errorf("CI=%v: the message lacks %q:\n%s", ci, want, out)
			}
		}
		if ci && !errors.Is(err, ErrNoPlugin) {
			t.Errorf("CI=true: err = %v, want ErrNoPlugin", err)
		}
		if !ci && (err != nil || !strings.Contains(out, "WITHOUT cross-cluster replication")) {
			t.Errorf("CI unset: err = %v, want a banner and no error:\n%s", err, out)
		}
	}
}

func TestSumFor(t *testing.T) {
	sums := "d2948672c75b4f71302937f51f5a849e8e73225f1cde0041ac66d53a4ebe3a43  opensearch-cross-cluster-replication-2.19.3.0.zip\n" +
		"zz48672c75b4f71302937f51f5a849e8e73225f1cde0041ac66d53a4ebe3a43  bad-hex.zip\n"
	if s, ok := sumFor(sums, "opensearch-cross-cluster-replication-2.19.3.0.zip"); !ok || s != "d2948672c75b4f71302937f51f5a849e8e73225f1cde0041ac66d53a4ebe3a43" {
		t.Errorf("%q %v", s, ok)
	}
	if _, ok := sumFor(sums, "bad-hex.zip"); ok {
		t.Error("accepted a checksum that is not hex")
	}
	if _, ok := sumFor(sums, "cross-cluster-replication-2.19.3.0.zip"); ok {
		t.Error("matched a name by suffix")
	}
}
