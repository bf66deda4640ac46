package lab

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// jvmDir is where the lab looks for a newer JDK when the default one is
// too old for the OpenSearch version (Debian's and Temurin's packages).
var jvmDir = "/usr/lib/jvm"

// resolveJava finds the JDK for the nodes: the configured JAVA_HOME, else
// the java on PATH, and checks that it is at least minMajor (11 for
// OpenSearch 2, 21 for 3). When the java on PATH is older and no JAVA_HOME
// is set, it takes the newest JDK of jvmDir that is new enough.
func resolveJava(ctx context.Context, javaHome string, minMajor int) (string, error) {
	explicit := javaHome != ""
	if javaHome == "" {
		j, err := exec.LookPath("java")
		if err != nil {
			return "", fmt.Errorf("no Java found; install a JDK %d+ (%s) or set JAVA_HOME", minMajor, hintJava)
		}
		if j, err = filepath.EvalSymlinks(j); err != nil {
			return "", err
		}
		javaHome = filepath.Dir(filepath.Dir(j))
	}
	major, ver, err := javaVersion(ctx, javaHome)
	if err != nil {
		return "", err
	}
	if major >= minMajor {
		return javaHome, nil
	}
	if !explicit {
		if home, m := newestJDK(ctx, jvmDir); m >= minMajor {
			return home, nil
		}
	}
	return "", fmt.Errorf("OpenSearch needs Java %d+, found '%s' at %s; install a JDK %d+ (Java 25: /usr/lib/jvm/temurin-25-jdk-amd64) or set OPENSEARCH_JAVA_HOME", minMajor, ver, javaHome, minMajor)
}

func javaVersion(ctx context.Context, javaHome string) (int, string, error) {
	java := filepath.Join(javaHome, "bin", "java")
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("%s does not run (%w); install openjdk-17-jdk-headless or fix JAVA_HOME/OPENSEARCH_JAVA_HOME", java, err)
	}
	major, ver := javaMajor(string(out))
	return major, ver, nil
}

// newestJDK is the JDK of dir with the highest major version (0 if none).
func newestJDK(ctx context.Context, dir string) (string, int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", 0
	}
	best, bestMajor := "", 0
	for _, e := range entries {
		home := filepath.Join(dir, e.Name())
		if !exists(filepath.Join(home, "bin", "java")) {
			continue
		}
		if m, _, err := javaVersion(ctx, home); err == nil && m > bestMajor {
			best, bestMajor = home, m
		}
	}
	return best, bestMajor
}

// minJava is the Java major version OpenSearch version v needs.
func minJava(v string) int {
	if strings.HasPrefix(v, "2.") || strings.HasPrefix(v, "1.") {
		return 11
	}
	return 21
}

var javaVersionRE = regexp.MustCompile(`version "([^"]*)"`)

// javaMajor reads the major version from `java -version` output:
// "17.0.2" is 17, "1.8.0_292" is 8. 0 when there is none.
func javaMajor(out string) (int, string) {
	m := javaVersionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, strings.TrimSpace(out)
	}
	parts := strings.Split(m[1], ".")
	if parts[0] == "1" && len(parts) > 1 {
		parts = parts[1:]
	}
	n, err := strconv.Atoi(strings.SplitN(parts[0], "-", 2)[0])
	if err != nil {
		return 0, m[1]
	}
	return n, m[1]
}

// runAs is the unprivileged user the nodes run as when we are root; nil
// otherwise (the nodes run as the current user).
type runAs struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

func (r *runAs) credential() *syscall.Credential {
	if r == nil {
		return nil
	}
	return &syscall.Credential{Uid: r.uid, Gid: r.gid, Groups: r.groups}
}

// lookupRunAs returns the node user (creating it as a system user when it
// does not exist) when running as root; OpenSearch refuses to run as root.
func (l *Lab) lookupRunAs(ctx context.Context) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	name := l.cfg.User
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		useradd, lerr := exec.LookPath("useradd")
		if lerr != nil {
			return nil, fmt.Errorf("user %s does not exist and 'useradd' was not found; install package passwd or create the user", name)
		}
		l.logf("creating system user %s", name)
		out, aerr := exec.CommandContext(ctx, useradd, "--system", "--user-group", "--no-create-home", //nolint:gosec // the configured lab user
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if u, err = user.Lookup(name); err != nil {
			return nil, fmt.Errorf("could not create user %s: %w %s", name, errors.Join(aerr, err), strings.TrimSpace(string(out)))
		}
	} else if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	r := &runAs{name: name}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	r.uid, r.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		gids = []string{u.Gid}
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			r.groups = append(r.groups, uint32(n))
		}
	}
	return r, nil
}

// extractZip unpacks a zip into dest, keeping file modes and refusing
// entries that would land outside dest.
func extractZip(zipPath, dest string) error {
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer func() { _ = r.Close() }()
	root, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	for _, f := range r.File {
		target := filepath.Join(root, f.Name) //nolint:gosec // checked just below
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("%s: entry %q leaves the target directory", zipPath, f.Name)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil { //nolint:gosec // an install tree
				return err
			}
		case mode&fs.ModeSymlink != 0:
			if err := extractSymlink(f, target); err != nil {
				return err
			}
		default:
			if err := extractFile(f, target, mode.Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

func extractSymlink(f *zip.File, target string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { //nolint:gosec // an install tree
		return err
	}
	return os.Symlink(string(b), target)
}

func extractFile(f *zip.File, target string, perm fs.FileMode) error {
	if perm == 0 {
		perm = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { //nolint:gosec // an install tree
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm) //nolint:gosec // inside dest, checked by the caller
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil { //nolint:gosec // the distribution's own sizes
		out.Close()
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return out.Close()
}

// installNode unpacks the distribution into the node's home, writes its
// opensearch.yml and installs the plugin (when plugin is not empty) and,
// in a secured lab, the security plugin with its certificates and users.
func (l *Lab) installNode(ctx context.Context, n Node, javaHome, plugin string, sec *securityInstall) error {
	c := l.cfg
	home := c.Home(n)
	l.logf("%s: installing OpenSearch %s into %s", n, c.Version, home)
	unpack := filepath.Join(c.Dir, ".unpack-"+string(n))
	if err := errors.Join(os.RemoveAll(home), os.RemoveAll(unpack)); err != nil {
		return err
	}
	if err := extractZip(c.DistZip(), unpack); err != nil {
		return fmt.Errorf("%s: unpack %s: %w", n, c.DistZip(), err)
	}
	if err := os.Rename(filepath.Join(unpack, "opensearch-"+c.Version), home); err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	if err := os.RemoveAll(unpack); err != nil {
		return err
	}
	for _, d := range []string{"data", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil { //nolint:gosec // the node's dirs
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(home, "config", "opensearch.yml"), []byte(c.NodeConfig(n)), 0o644); err != nil { //nolint:gosec // read by the node user
		return err
	}
	if plugin != "" {
		if err := l.pluginInstall(ctx, n, javaHome, plugin, "CCR plugin"); err != nil {
			return err
		}
	}
	if sec != nil {
		return l.installSecurity(ctx, n, javaHome, sec.zip, sec.pki)
	}
	return nil
}

// securityInstall is what a secured node is installed with.
type securityInstall struct {
	zip string
	pki *pki
}

// pluginInstall runs opensearch-plugin install --batch for a plugin zip.
func (l *Lab) pluginInstall(ctx context.Context, n Node, javaHome, zip, what string) error {
	home := l.cfg.Home(n)
	l.logf("%s: installing %s from %s", n, what, zip)
	logPath := filepath.Join(home, "logs", "plugin-install.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) //nolint:gosec // the node's log dir
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(home, "bin", "opensearch-plugin"), "install", "--batch", "file://"+zip) //nolint:gosec // the lab's own install
	cmd.Dir, cmd.Stdout, cmd.Stderr = home, logf, logf
	cmd.Env = append(os.Environ(), "OPENSEARCH_JAVA_HOME="+javaHome, "OPENSEARCH_PATH_CONF="+filepath.Join(home, "config"))
	if err := cmd.Run(); err != nil {
		if b, rerr := os.ReadFile(logPath); rerr == nil { //nolint:gosec // the log just written
			fmt.Fprintf(l.log, "%s", b)
		}
		return fmt.Errorf("%s: installing the %s from %s failed (wrong version for OpenSearch %s?): %w", n, what, zip, l.cfg.Version, err)
	}
	return nil
}

// chownTree gives a node's tree to the node user (through an os.Root, so
// nothing outside it is touched).
func chownTree(dir string, r *runAs) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	return fs.WalkDir(root.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(p, int(r.uid), int(r.gid))
	})
}

// checkRunAs makes sure the node user can run java and reach a node's
// data dir (every parent of LAB_DIR traversable).
func checkRunAs(ctx context.Context, r *runAs, dataDir, javaHome string) error {
	java := func(dir string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(javaHome, "bin", "java"), "-version")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.credential()}
		return cmd.CombinedOutput()
	}
	if out, err := java("/"); err != nil {
		return fmt.Errorf("user %s cannot run %s/bin/java (%w %s); install openjdk-17-jdk-headless system-wide", r.name, javaHome, err, strings.TrimSpace(string(out)))
	}
	if _, err := java(dataDir); err != nil {
		return fmt.Errorf("user %s cannot reach %s (%w: a parent directory is not traversable?); use a LAB_DIR under /tmp", r.name, dataDir, err)
	}
	return nil
}
