package lab

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// The secured lab (LAB_SECURITY=1): both clusters run the security plugin
// with TLS on HTTP and transport (the remote cluster link included), made
// from the lab's own CA (pki.go), and two internal users per cluster: an
// admin (all_access; the lab's own calls) and a least-privilege "drwatch"
// user mapped to the roles drwatch ships in deploy/security/*.yml, so the
// lab proves those roles. Replication is started with use_roles naming
// two roles the lab defines for the replication tasks. Passwords are
// random per lab, in files of mode 0600.

// The users and roles of the secured lab.
const (
	AdminUser    = "admin"
	DrwatchUser  = "drwatch"
	LeaderRole   = "lab_ccr_leader"   // use_roles.leader_cluster_role
	FollowerRole = "lab_ccr_follower" // use_roles.follower_cluster_role
)

// The drwatch roles the lab maps its drwatch user to (deploy/security).
var (
	LeaderDrwatchRoles   = []string{"drwatch_watch", "drwatch_promote", "drwatch_drill"}
	FollowerDrwatchRoles = []string{"drwatch_watch", "drwatch_promote", "drwatch_ha", "drwatch_drill"}
)

// DrwatchRoles are the drwatch roles of node n's cluster.
func DrwatchRoles(n Node) []string {
	if n.Cluster() == Leader {
		return LeaderDrwatchRoles
	}
	return FollowerDrwatchRoles
}

// SecurityDir holds the lab's CA, the admin certificate and the
// password files.
func (c Config) SecurityDir() string { return filepath.Join(c.Dir, "security") }

// CAFile is the lab CA's certificate (PEM).
func (c Config) CAFile() string { return filepath.Join(c.SecurityDir(), caFile) }

// PasswordFile is a lab user's password file.
func (c Config) PasswordFile(user string) string {
	return filepath.Join(c.SecurityDir(), user+".password")
}

// RolesFile is drwatch's shipped roles file for node n's cluster.
func (c Config) RolesFile(n Node) string {
	return filepath.Join(c.Repo, "deploy", "security", string(n.Cluster())+".yml")
}

func (c Config) securityName() string {
	return "opensearch-security-" + c.CCRVersion + ".zip"
}
func (c Config) securityZip() string { return filepath.Join(c.Cache, c.securityName()) }
func (c Config) securityArtifact() string {
	return "org.opensearch.plugin:opensearch-security:" + c.CCRVersion + ":zip"
}

// fetchSecurity gets the security plugin's zip into the cache (Maven).
func (l *Lab) fetchSecurity(ctx context.Context) (string, error) {
	c := l.cfg
	zipPath := c.securityZip()
	if nonEmpty(zipPath) && exists(zipPath+".ok") {
		l.logf("security plugin cached: %s", zipPath)
		return zipPath, nil
	}
	if err := os.MkdirAll(c.Cache, 0o755); err != nil { //nolint:gosec // a download cache
		return "", err
	}
	logPath := filepath.Join(c.Cache, "mvn-security.log")
	l.logf("fetching %s with mvn", c.securityArtifact())
	if err := l.mvnCopy(ctx, c.securityArtifact(), logPath); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", err
		}
		l.printTail(logPath, 20)
		return "", fmt.Errorf("LAB_SECURITY=1: mvn could not fetch %s (see %s): %w", c.securityArtifact(), logPath, err)
	}
	if err := checkZip(zipPath); err != nil {
		return "", fmt.Errorf("%s is corrupt (%w); delete it and retry", zipPath, err)
	}
	if err := os.WriteFile(zipPath+".ok", nil, 0o644); err != nil { //nolint:gosec // a cache marker
		return "", err
	}
	return zipPath, nil
}

// password makes a random password of 24 letters and digits.
func password() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// writeSecret writes a file of mode 0600 (replacing any).
func writeSecret(path string, b []byte) error {
	_ = os.Remove(path)
	return os.WriteFile(path, b, 0o600)
}

// prepareSecurity makes the lab's CA, admin certificate and passwords in
// SecurityDir, once per lab.
func (l *Lab) prepareSecurity(now time.Time) (*pki, error) {
	c := l.cfg
	dir := c.SecurityDir()
	if exists(c.CAFile()) {
		return loadPKI(c.CAFile(), filepath.Join(dir, "ca-key.pem"))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := newPKI(now)
	if err != nil {
		return nil, err
	}
	caKey, err := p.keyPEM()
	if err != nil {
		return nil, err
	}
	admin, err := p.issue(adminSubject(), false, now)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca-key.pem": caKey, "admin.pem": admin.CertPEM, "admin-key.pem": admin.KeyPEM}
	for _, u := range []string{AdminUser, DrwatchUser} {
		pw, err := password()
		if err != nil {
			return nil, err
		}
		files[u+".password"] = []byte(pw + "\n")
	}
	for name, b := range files {
		if err := writeSecret(filepath.Join(dir, name), b); err != nil {
			return nil, err
		}
	}
	// the CA certificate last: its presence says the rest is there
	if err := os.WriteFile(c.CAFile(), p.certPEM, 0o644); err != nil { //nolint:gosec // a public certificate
		return nil, err
	}
	l.logf("security: made the lab CA, the admin certificate and random passwords in %s", dir)
	return p, nil
}

// readPassword reads a lab user's password.
func (c Config) readPassword(user string) (string, error) {
	b, err := os.ReadFile(c.PasswordFile(user)) //nolint:gosec // the lab's own password file
	if err != nil {
		return "", fmt.Errorf("the secured lab's password of %s: %w", user, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// nodeDNs are the subjects of every node of the lab (both clusters).
func (c Config) nodeDNs() []string {
	var out []string
	for _, n := range c.AllMembers() {
		s := nodeSubject(n.Cluster(), n.Index())
		out = append(out, s.String())
	}
	return out
}

// securityNodeConfig is what a secured node adds to its opensearch.yml.
func (c Config) securityNodeConfig() string {
	var b strings.Builder
	b.WriteString(`plugins.security.ssl.transport.pemcert_filepath: certs/node.pem
plugins.security.ssl.transport.pemkey_filepath: certs/node-key.pem
plugins.security.ssl.transport.pemtrustedcas_filepath: certs/ca.pem
plugins.security.ssl.transport.enforce_hostname_verification: false
plugins.security.ssl.http.enabled: true
plugins.security.ssl.http.pemcert_filepath: certs/node.pem
plugins.security.ssl.http.pemkey_filepath: certs/node-key.pem
plugins.security.ssl.http.pemtrustedcas_filepath: certs/ca.pem
plugins.security.allow_default_init_securityindex: true
plugins.security.restapi.roles_enabled: ["all_access"]
plugins.security.check_snapshot_restore_write_privileges: true
plugins.security.audit.type: noop
`)
	adminDN := adminSubject()
	fmt.Fprintf(&b, "plugins.security.authcz.admin_dn:\n  - %q\n", adminDN.String())
	b.WriteString("# every node of both clusters: the leader accepts the follower's nodes\n# on its transport port (the remote cluster link) and the other way round\nplugins.security.nodes_dn:\n")
	for _, dn := range c.nodeDNs() {
		fmt.Fprintf(&b, "  - %q\n", dn)
	}
	return b.String()
}

// securityFiles are the security plugin's configuration of node n's
// cluster (config/opensearch-security/), loaded into its security index
// at its first start: basic authentication against the internal users,
// no anonymous access, the admin and drwatch users, drwatch's shipped
// roles and the replication roles.
func (l *Lab) securityFiles(n Node) (map[string][]byte, error) {
	c := l.cfg
	hashes := map[string]string{}
	for _, u := range []string{AdminUser, DrwatchUser} {
		pw, err := c.readPassword(u)
		if err != nil {
			return nil, err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
		if err != nil {
			return nil, err
		}
		hashes[u] = string(h)
	}
	roles, err := l.rolesYAML(n)
	if err != nil {
		return nil, err
	}
	users := map[string]any{
		"_meta":     map[string]any{"type": "internalusers", "config_version": 2},
		AdminUser:   map[string]any{"hash": hashes[AdminUser], "reserved": true, "description": "the lab's admin"},
		DrwatchUser: map[string]any{"hash": hashes[DrwatchUser], "description": "drwatch, with the roles of deploy/security/" + string(n) + ".yml"},
	}
	mapping := map[string]any{
		"_meta":      map[string]any{"type": "rolesmapping", "config_version": 2},
		"all_access": map[string]any{"reserved": false, "users": []string{AdminUser}},
	}
	for _, r := range DrwatchRoles(n) {
		mapping[r] = map[string]any{"users": []string{DrwatchUser}}
	}
	// Whoever starts replication with use_roles must be mapped to the
	// roles it names ("No mapping for User [...] on roles [...]"): the
	// admin here; drwatch only where a test runs a failover drill, whose
	// restore starts replication again (MapToReplicationRoles).
	for r := range replicationRoles(n) {
		mapping[r] = map[string]any{"users": []string{AdminUser}}
	}
	cfg := map[string]any{
		"_meta": map[string]any{"type": "config", "config_version": 2},
		"config": map[string]any{"dynamic": map[string]any{
			"http": map[string]any{"anonymous_auth_enabled": false},
			"authc": map[string]any{"basic_internal_auth_domain": map[string]any{
				"description": "HTTP basic against the internal users", "http_enabled": true, "transport_enabled": true, "order": 0,
				"http_authenticator":     map[string]any{"type": "basic", "challenge": true},
				"authentication_backend": map[string]any{"type": "intern"},
			}},
		}},
	}
	out := map[string][]byte{"roles.yml": roles}
	for name, v := range map[string]any{"internal_users.yml": users, "roles_mapping.yml": mapping, "config.yml": cfg} {
		b, err := yaml.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// replicationRoles are the roles the lab names in use_roles: what the
// replication tasks run as (the security plugin's
// cross_cluster_replication_*_full_access, as roles of the lab's own so
// that a test can change them).
func replicationRoles(n Node) map[string]any {
	if n.Cluster() == Leader {
		return map[string]any{LeaderRole: map[string]any{
			"description": "the lab's leader_cluster_role for use_roles",
			"index_permissions": []any{map[string]any{"index_patterns": []string{"*"}, "allowed_actions": []string{
				"indices:admin/plugins/replication/index/setup/validate",
				"indices:data/read/plugins/replication/changes",
				"indices:data/read/plugins/replication/file_chunk",
			}}},
		}}
	}
	return map[string]any{FollowerRole: map[string]any{
		"description":         "the lab's follower_cluster_role for use_roles",
		"cluster_permissions": []string{"cluster:admin/plugins/replication/autofollow/update"},
		"index_permissions": []any{map[string]any{"index_patterns": []string{"*"}, "allowed_actions": []string{
			"indices:admin/plugins/replication/index/setup/validate",
			"indices:data/write/plugins/replication/changes",
			"indices:admin/plugins/replication/index/start",
			"indices:admin/plugins/replication/index/pause",
			"indices:admin/plugins/replication/index/resume",
			"indices:admin/plugins/replication/index/stop",
			"indices:admin/plugins/replication/index/update",
			"indices:admin/plugins/replication/index/status_check",
		}}},
	}}
}

// rolesYAML is node n's roles.yml: drwatch's shipped roles for its
// cluster (read from deploy/security, as users load them) and the
// replication roles.
func (l *Lab) rolesYAML(n Node) ([]byte, error) {
	path := l.cfg.RolesFile(n)
	b, err := os.ReadFile(path) //nolint:gosec // the checkout's roles file
	if err != nil {
		return nil, fmt.Errorf("LAB_SECURITY=1 needs drwatch's roles: %w", err)
	}
	var roles map[string]any
	if err := yaml.Unmarshal(b, &roles); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range DrwatchRoles(n) {
		if _, ok := roles[r]; !ok {
			return nil, fmt.Errorf("%s defines no role %s", path, r)
		}
	}
	for k, v := range replicationRoles(n) {
		roles[k] = v
	}
	return yaml.Marshal(roles)
}

// installSecurity installs the security plugin into node n and writes its
// certificates and configuration.
func (l *Lab) installSecurity(ctx context.Context, n Node, javaHome, zip string, p *pki) error {
	home := l.cfg.Home(n)
	if err := l.pluginInstall(ctx, n, javaHome, zip, "security plugin"); err != nil {
		return err
	}
	nodeLeaf, err := p.issue(nodeSubject(n.Cluster(), n.Index()), true, time.Now())
	if err != nil {
		return err
	}
	dir := filepath.Join(home, "config", certsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // read by the node user
		return err
	}
	for name, b := range map[string][]byte{caFile: p.certPEM, nodeCert: nodeLeaf.CertPEM, nodeKey: nodeLeaf.KeyPEM} {
		if err := writeSecret(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	files, err := l.securityFiles(n)
	if err != nil {
		return err
	}
	secCfg := filepath.Join(home, "config", "opensearch-security")
	if err := os.MkdirAll(secCfg, 0o755); err != nil { //nolint:gosec // read by the node user
		return err
	}
	for name, b := range files {
		if err := writeSecret(filepath.Join(secCfg, name), b); err != nil {
			return err
		}
	}
	return nil
}

// httpClient is the client of the lab's own calls: plain, or TLS trusting
// the lab CA with the admin's credentials.
type labHTTP struct {
	client     *http.Client
	user, pass string
}

var plainHTTP = &labHTTP{client: &http.Client{}}

func (l *Lab) http() (*labHTTP, error) {
	if !l.cfg.Security {
		return plainHTTP, nil
	}
	if l.sec != nil {
		return l.sec, nil
	}
	ca, err := os.ReadFile(l.cfg.CAFile())
	if err != nil {
		return nil, fmt.Errorf("the secured lab's CA: %w", err)
	}
	pool, err := caPool(ca)
	if err != nil {
		return nil, err
	}
	pw, err := l.cfg.readPassword(AdminUser)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	l.sec = &labHTTP{client: &http.Client{Transport: tr}, user: AdminUser, pass: pw}
	return l.sec, nil
}

// useRoles is the use_roles of a _start or autofollow body in the
// secured lab (nil otherwise).
func (c Config) useRoles() map[string]string {
	if !c.Security {
		return nil
	}
	return map[string]string{"leader_cluster_role": LeaderRole, "follower_cluster_role": FollowerRole}
}
