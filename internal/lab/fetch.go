package lab

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Install hints, named in every error about a missing tool.
const (
	hintMaven = "Debian/Ubuntu: apt-get install -y maven openjdk-17-jdk-headless"
	hintJava  = "Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless"
)

// ErrNoPlugin is returned under CI=true when no plugin zip is available.
var ErrNoPlugin = errors.New("CI=true: a lab without the replication plugin is a failure")

// PluginSource is where LocatePlugin found the plugin zip.
type PluginSource string

// Where a plugin zip can come from, in the order they are tried.
const (
	PluginFromEnv    PluginSource = "DRWATCH_CCR_PLUGIN_ZIP"
	PluginFromShared PluginSource = "shared"
	PluginFromCache  PluginSource = "cache"
)

// LocatePlugin finds the CCR plugin zip without asking Maven, in this order:
// DRWATCH_CCR_PLUGIN_ZIP, the zip in SharedCCRDir (verified against the
// SHA256SUMS beside it: a mismatch is an error, never a fallback), the
// download cache. It returns "" and no error when there is none.
func (c Config) LocatePlugin() (string, PluginSource, error) {
	if c.PluginZip != "" {
		p, err := filepath.Abs(c.PluginZip)
		if err != nil {
			return "", "", err
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return "", "", fmt.Errorf("DRWATCH_CCR_PLUGIN_ZIP=%s does not exist", c.PluginZip)
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p, PluginFromEnv, nil
	}
	if shared := c.sharedPluginZip(); nonEmpty(shared) {
		if err := verifySHA256(shared, filepath.Join(c.SharedCCRDir, "SHA256SUMS")); err != nil {
			return "", "", err
		}
		return shared, PluginFromShared, nil
	}
	if cached := c.cachedPluginZip(); nonEmpty(cached) {
		return cached, PluginFromCache, nil
	}
	return "", "", nil
}

func nonEmpty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// verifySHA256 fails unless file's SHA-256 is the one sums lists for its name.
func verifySHA256(file, sums string) error {
	b, err := os.ReadFile(sums) //nolint:gosec // the shared folder's SHA256SUMS
	if err != nil {
		return fmt.Errorf("%s is missing: cannot verify %s", sums, file)
	}
	want, ok := sumFor(string(b), filepath.Base(file))
	if !ok {
		return fmt.Errorf("%s has no line for %s", sums, filepath.Base(file))
	}
	got, err := fileSHA256(file)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s has SHA256 %s, but %s says %s: the zip is damaged or was replaced", file, got, sums, want)
	}
	return nil
}

// sumFor finds name's checksum in the text of a SHA256SUMS file
// (`<hex>  <name>` or `<hex> *<name>` per line).
func sumFor(sums, name string) (string, bool) {
	sc := bufio.NewScanner(strings.NewReader(sums))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && (f[1] == name || f[1] == "*"+name) && len(f[0]) == 64 {
			if _, err := hex.DecodeString(f[0]); err == nil {
				return strings.ToLower(f[0]), true
			}
		}
	}
	return "", false
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // a plugin zip the caller named
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// noPluginHelp says where the lab looked and where to get the plugin.
func (c Config) noPluginHelp() []string {
	return []string{
		"No cross-cluster-replication plugin zip for OpenSearch " + c.Version + " was found. Looked at:",
		"  DRWATCH_CCR_PLUGIN_ZIP (unset), " + c.sharedPluginZip() + ", " + c.cachedPluginZip() + ", and Maven Central (" + c.pluginArtifact() + ").",
		"Get " + c.pluginName() + " from OpenSearch's release artifacts",
		"(the plugin of exactly your OpenSearch version), or build it from its source tag, then either",
		"set DRWATCH_CCR_PLUGIN_ZIP=/path/to/it or copy it to " + c.cachedPluginZip() + ".",
	}
}

// Fetch gets the distribution into the cache (with Maven) and finds the
// plugin: LocatePlugin's places, then Maven Central (asked once; a marker
// in the cache remembers the miss, LAB_RETRY_CCR=1 asks again). Without a
// plugin it returns ErrNoPlugin under CI=true and prints a banner otherwise.
// It returns the plugin zip, "" when there is none.
func (l *Lab) Fetch(ctx context.Context) (string, error) {
	if err := l.fetchDist(ctx); err != nil {
		return "", err
	}
	return l.fetchPlugin(ctx)
}

func (l *Lab) fetchDist(ctx context.Context) error {
	c := l.cfg
	zipPath := c.DistZip()
	if nonEmpty(zipPath) && exists(zipPath+".ok") {
		l.logf("distribution cached: %s", zipPath)
		return nil
	}
	if err := os.MkdirAll(c.Cache, 0o755); err != nil { //nolint:gosec // a download cache
		return err
	}
	logPath := filepath.Join(c.Cache, "mvn-dist.log")
	l.logf("fetching %s with mvn", c.distArtifact())
	if err := l.mvnCopy(ctx, c.distArtifact(), logPath); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return err
		}
		l.printTail(logPath, 20)
		return fmt.Errorf("mvn could not fetch %s (see %s): %w", c.distArtifact(), logPath, err)
	}
	if !nonEmpty(zipPath) {
		return fmt.Errorf("mvn succeeded but %s is missing", zipPath)
	}
	if err := checkZip(zipPath); err != nil {
		return fmt.Errorf("%s is corrupt (%w); delete it and retry", zipPath, err)
	}
	if err := os.WriteFile(zipPath+".ok", nil, 0o644); err != nil { //nolint:gosec // a cache marker
		return err
	}
	l.logf("fetched %s", zipPath)
	return nil
}

func (l *Lab) fetchPlugin(ctx context.Context) (string, error) {
	c := l.cfg
	p, src, err := c.LocatePlugin()
	if err != nil {
		return "", err
	}
	switch src {
	case PluginFromEnv:
		l.logf("CCR plugin: using DRWATCH_CCR_PLUGIN_ZIP=%s", p)
		return p, nil
	case PluginFromShared:
		l.logf("CCR plugin: %s (SHA256 verified)", p)
		return p, nil
	case PluginFromCache:
		l.logf("CCR plugin cached: %s", p)
		return p, nil
	}
	if _, err := exec.LookPath(c.Mvn); err == nil && (!exists(c.pluginUnavailable()) || c.RetryCCR) {
		if err := os.MkdirAll(c.Cache, 0o755); err != nil { //nolint:gosec // a download cache
			return "", err
		}
		l.logf("CCR plugin: trying %s on Maven Central", c.pluginArtifact())
		if err := l.mvnCopy(ctx, c.pluginArtifact(), filepath.Join(c.Cache, "mvn-ccr.log")); err == nil && nonEmpty(c.cachedPluginZip()) {
			_ = os.Remove(c.pluginUnavailable())
			l.logf("CCR plugin fetched: %s", c.cachedPluginZip())
			return c.cachedPluginZip(), nil
		}
		_ = os.WriteFile(c.pluginUnavailable(), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644) //nolint:gosec // a cache marker
	}
	if c.CI {
		for _, line := range c.noPluginHelp() {
			fmt.Fprintln(l.log, line)
		}
		return "", ErrNoPlugin
	}
	l.banner(append(c.noPluginHelp(), "The lab will run WITHOUT cross-cluster replication (CCR=0).")...)
	return "", nil
}

// mvnCopy runs `mvn dependency:copy` for artifact into the cache, outside
// the repo so that no pom.xml is picked up.
func (l *Lab) mvnCopy(ctx context.Context, artifact, logPath string) error {
	mvn, err := exec.LookPath(l.cfg.Mvn)
	if err != nil {
		return fmt.Errorf("'%s' not found; install it (%s): %w", l.cfg.Mvn, hintMaven, exec.ErrNotFound)
	}
	logf, err := os.Create(logPath) //nolint:gosec // the cache's mvn log
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "dependency:copy", "-Dartifact="+artifact, "-DoutputDirectory="+l.cfg.Cache)
	cmd.Dir, cmd.Stdout, cmd.Stderr = l.cfg.Cache, logf, logf
	return cmd.Run()
}

// checkZip reads every entry of a zip, which checks their CRCs.
func checkZip(path string) error {
	r, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		_, err = io.Copy(io.Discard, rc) //nolint:gosec // a distribution we fetched; sizes are the archive's
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
