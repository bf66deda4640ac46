package lab

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The lab CA signs node certificates a client trusting only it accepts
// for 127.0.0.1 and localhost, for server and client authentication (the
// transport is mutual TLS), under the subjects nodes_dn lists.
func TestPKINodeCertificates(t *testing.T) {
	now := time.Now()
	p, err := newPKI(now)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := caPool(p.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := p.issue(nodeSubject(Follower, 0), true, now)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(l.CertPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s, usage %v: %v", host, usage, err)
			}
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: x509.NewCertPool()}); err == nil {
		t.Error("verified without the lab CA")
	}
	if l.Subject != "CN=follower-0.lab,OU=nodes,O=drwatch-lab" || !cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("subject %q, IPs %v", l.Subject, cert.IPAddresses)
	}
	c1, _ := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "1", "LAB_NODES": "3"}))
	cfg := c1.securityNodeConfig()
	for _, dn := range []string{"CN=leader-0.lab,OU=nodes,O=drwatch-lab", "CN=follower-0.lab,OU=nodes,O=drwatch-lab", "CN=leader-2.lab,OU=nodes,O=drwatch-lab", "CN=follower-1.lab,OU=nodes,O=drwatch-lab"} {
		if !strings.Contains(cfg, `"`+dn+`"`) {
			t.Errorf("nodes_dn lacks %s:\n%s", dn, cfg)
		}
	}
	if !strings.Contains(cfg, `plugins.security.authcz.admin_dn:
  - "CN=lab-admin,OU=admins,O=drwatch-lab"`) {
		t.Errorf("admin_dn:\n%s", cfg)
	}
	admin, err := p.issue(adminSubject(), false, now)
	if err != nil {
		t.Fatal(err)
	}
	ablk, _ := pem.Decode(admin.CertPEM)
	acert, _ := x509.ParseCertificate(ablk.Bytes)
	if _, err := acert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("the admin certificate serves TLS")
	}
}

func TestSecurityConfigFromEnv(t *testing.T) {
	c, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Security || c.URL(Leader) != "https://127.0.0.1:19200" || c.CAFile() != "/tmp/drwatch-lab/security/ca.pem" ||
		c.PasswordFile(DrwatchUser) != "/tmp/drwatch-lab/security/drwatch.password" || c.securityArtifact() != "org.opensearch.plugin:opensearch-security:2.19.3.0:zip" {
		t.Errorf("%+v", c)
	}
	if _, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "yes"})); err == nil || !strings.Contains(err.Error(), "LAB_SECURITY must be 0 or 1 (got 'yes')") {
		t.Errorf("LAB_SECURITY=yes: %v", err)
	}
	// A running secured lab is secured for later commands; an explicit 0 conflicts.
	st := state{Version: "2.19.3", Security: "1"}
	plain, _ := FromEnv("/src/drwatch", envOf(nil))
	if err := plain.merge(st); err != nil || !plain.Security {
		t.Errorf("merge into an unset LAB_SECURITY: %v, secured %v", err, plain.Security)
	}
	off, _ := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "0"}))
	if err := off.merge(st); err == nil || !strings.Contains(err.Error(), "LAB_SECURITY=0 differs from the running lab") {
		t.Errorf("LAB_SECURITY=0 on a secured lab: %v", err)
	}
	on, _ := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "1"}))
	if err := on.merge(state{Version: "2.19.3", Security: "0"}); err == nil {
		t.Error("LAB_SECURITY=1 on a plain lab: no error")
	}
	// a lab saved before the flag is a plain one
	if err := on.merge(state{Version: "2.19.3"}); err == nil {
		t.Error("LAB_SECURITY=1 on a lab saved without the flag: no error")
	}
}

// The secured nodes' roles.yml is deploy/security's roles file of their
// cluster plus the replication roles; a roles file without a role the
// lab maps is an error naming it.
func TestRolesFromTheShippedFiles(t *testing.T) {
	repo, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := FromEnv(repo, envOf(map[string]string{"LAB_SECURITY": "1"}))
	l := &Lab{cfg: c}
	for _, n := range Nodes {
		b, err := l.rolesYAML(n)
		if err != nil {
			t.Fatal(err)
		}
		var roles map[string]any
		if err := yaml.Unmarshal(b, &roles); err != nil {
			t.Fatal(err)
		}
		for _, r := range append(DrwatchRoles(n), map[Node]string{Leader: LeaderRole, Follower: FollowerRole}[n], "_meta") {
			if _, ok := roles[r]; !ok {
				t.Errorf("%s: roles.yml lacks %s", n, r)
			}
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "deploy", "security"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "security", "leader.yml"), []byte("drwatch_watch: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Repo = dir
	l = &Lab{cfg: c}
	if _, err := l.rolesYAML(Leader); err == nil || !strings.Contains(err.Error(), "defines no role drwatch_promote") {
		t.Errorf("a roles file without drwatch_promote: %v", err)
	}
}

func TestSecuredLabOnOpenSearch3IsRefused(t *testing.T) {
	_, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_SECURITY": "1", "LAB_VERSION": "3.4.0"}))
	if err == nil || !strings.Contains(err.Error(), "needs the rule-framework plugin") {
		t.Fatalf("LAB_SECURITY=1 LAB_VERSION=3.4.0: %v", err)
	}
	c, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_VERSION": "3.4.0"}))
	if err != nil || c.Version != "3.4.0" || c.CCRVersion != "3.4.0.0" || minJava(c.Version) != 21 {
		t.Fatalf("LAB_VERSION=3.4.0: %+v, %v", c, err)
	}
	if _, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_VERSION": "3.4.0", "OPENSEARCH_VERSION": "2.19.3"})); err == nil {
		t.Fatal("LAB_VERSION and OPENSEARCH_VERSION differ: no error")
	}
}

func TestSeveralNodes(t *testing.T) {
	c, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_NODES": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Members(Follower); len(got) != 3 || got[0] != Follower || got[2] != "follower-2" {
		t.Fatalf("members %v", got)
	}
	n := Node("leader-2")
	if n.Cluster() != Leader || n.Index() != 2 || c.HTTPPort(n) != 19220 || c.TransportPort(n) != 19320 || c.Home(n) != "/tmp/drwatch-lab/leader-2" {
		t.Fatalf("leader-2: %s %d %d %d %s", n.Cluster(), n.Index(), c.HTTPPort(n), c.TransportPort(n), c.Home(n))
	}
	yml := c.NodeConfig(n)
	for _, want := range []string{"cluster.name: drwatch-leader\n", "node.name: leader-2\n", `discovery.seed_hosts: ["127.0.0.1:19300", "127.0.0.1:19310", "127.0.0.1:19320"]`, `cluster.initial_cluster_manager_nodes: ["leader", "leader-1", "leader-2"]`} {
		if !strings.Contains(yml, want) {
			t.Errorf("opensearch.yml of leader-2 lacks %q:\n%s", want, yml)
		}
	}
	if strings.Contains(yml, "single-node") || c.Heap != "384m" {
		t.Errorf("heap %s, yml:\n%s", c.Heap, yml)
	}
	one, _ := FromEnv("/src/drwatch", envOf(nil))
	if !strings.Contains(one.NodeConfig(Leader), "discovery.type: single-node\n") {
		t.Error("a one-node cluster is no single-node cluster")
	}
	if _, err := ParseNode("leader-9"); err != nil {
		t.Error(err)
	}
	if _, err := ParseNode("leader-0"); err == nil {
		t.Error("leader-0 parsed")
	}
	if _, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_NODES": "6"})); err == nil {
		t.Error("LAB_NODES=6 accepted")
	}
	if _, err := FromEnv("/src/drwatch", envOf(map[string]string{"LAB_NODES": "3", "FOLLOWER_HTTP_PORT": "19210"})); err == nil {
		t.Error("overlapping node ports accepted")
	}
}
