//go:build e2e

package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	drconfig "github.com/drwatch/drwatch/internal/config"
	drlab "github.com/drwatch/drwatch/internal/lab"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The tests' own calls to the lab clusters go as the lab's admin in a
// secured lab (LAB_SECURITY=1: TLS from the lab CA, the admin's basic
// credentials); drwatch runs as the least-privilege drwatch user (config).

var (
	adminOnce sync.Once
	adminHTTP *http.Client
	adminPass string
	labCA     []byte
)

// labHTTP is the client of the tests' own calls to the clusters.
func labHTTP() *http.Client {
	adminOnce.Do(func() {
		adminHTTP = http.DefaultClient
		if !lab.Security {
			return
		}
		ca, err := os.ReadFile(lab.CAFile)
		if err != nil {
			panic(fmt.Sprintf("the secured lab's CA: %v", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			panic("the secured lab's CA file holds no certificate")
		}
		labCA = ca
		b, err := os.ReadFile(lab.AdminPasswordFile)
		if err != nil {
			panic(fmt.Sprintf("the secured lab's admin password: %v", err))
		}
		adminPass = strings.TrimSpace(string(b))
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		adminHTTP = &http.Client{Transport: tr}
	})
	return adminHTTP
}

// adminPassword is the secured lab's admin password.
func adminPassword() string {
	labHTTP()
	return adminPass
}

// asAdmin adds the admin's credentials to a request to a lab cluster.
func asAdmin(req *http.Request) {
	if labHTTP(); lab.Security {
		req.SetBasicAuth(lab.AdminUser, adminPass)
	}
}

// labTransport is the transport of a proxy in front of a lab cluster.
func labTransport() http.RoundTripper {
	if c := labHTTP(); c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// credentials are the lines a drwatch config's leader or follower gets in
// a secured lab: the drwatch user, its password file, the lab CA, and on
// the follower the roles replication runs as (use_roles).
func credentials(indent string, follower bool) string {
	if !lab.Security {
		return ""
	}
	s := fmt.Sprintf("%susername: %s\n%spassword_file: %s\n%sca_file: %s\n",
		indent, lab.DrwatchUser, indent, lab.DrwatchPasswordFile, indent, lab.CAFile)
	if follower {
		s += fmt.Sprintf("%suse_roles:\n%s  leader_cluster_role: %s\n%s  follower_cluster_role: %s\n",
			indent, indent, lab.LeaderRole, indent, lab.FollowerRole)
	}
	return s
}

// useRoles is the use_roles member of a _start or autofollow body in a
// secured lab (with its leading comma), "" otherwise.
func useRoles() string {
	if !lab.Security {
		return ""
	}
	return fmt.Sprintf(`,"use_roles":{"leader_cluster_role":%q,"follower_cluster_role":%q}`, lab.LeaderRole, lab.FollowerRole)
}

// labClient is an opensearch client of the tests (as the admin).
func labClient(t *testing.T, base string) *opensearch.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	ep := drconfig.Endpoint{Addresses: []*url.URL{u}}
	if labHTTP(); lab.Security {
		ep.Username, ep.Password, ep.CACert = lab.AdminUser, drconfig.NewSecret(adminPass), labCA
	}
	c, err := opensearch.New(ep, opensearch.Options{Retry: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mapDrwatchToReplicationRoles maps the drwatch user to the roles of
// use_roles (on the leader its leader_cluster_role, on the follower its
// follower_cluster_role), as a failover drill's restore needs: the
// security plugin lets only a user mapped to them start replication with
// them. Undone at the end of the test.
func mapDrwatchToReplicationRoles(t *testing.T) {
	t.Helper()
	if !lab.Security {
		return
	}
	for base, role := range map[string]string{lab.LeaderURL: lab.LeaderRole, lab.FollowerURL: lab.FollowerRole} {
		osOK(t, base, "PUT", "/_plugins/_security/api/rolesmapping/"+role,
			fmt.Sprintf(`{"users":[%q,%q]}`, lab.AdminUser, lab.DrwatchUser))
		t.Cleanup(func() {
			osOK(t, base, "PUT", "/_plugins/_security/api/rolesmapping/"+role, fmt.Sprintf(`{"users":[%q]}`, lab.AdminUser))
		})
	}
}

// logMark is where the nodes' logs end now.
type logMark map[string]int64

func markLogs(t *testing.T) logMark {
	t.Helper()
	m := logMark{}
	for _, n := range theLab.Config().AllMembers() {
		p := nodeLog(n)
		if fi, err := os.Stat(p); err == nil {
			m[p] = fi.Size()
		}
	}
	return m
}

func nodeLog(n drlab.Node) string {
	return filepath.Join(lab.Dir, string(n), "logs", "drwatch-"+string(n.Cluster())+".log")
}

// refusals are the security plugin's log lines, since the mark, of a
// request of the drwatch user it refused ("No ... perm match for User
// [name=drwatch").
func (m logMark) refusals(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range theLab.Config().AllMembers() {
		p := nodeLog(n)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(m[p], 0); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "perm match for User [name="+lab.DrwatchUser+",") {
				out = append(out, string(n)+": "+line)
			}
		}
		f.Close()
	}
	return out
}

func requireNoRefusals(t *testing.T, m logMark) {
	t.Helper()
	if r := m.refusals(t); len(r) > 0 {
		t.Errorf("the security plugin refused the drwatch user %d times; the roles of deploy/security lack:\n%s", len(r), strings.Join(r, "\n"))
	}
}

// noRefusalsOfDrwatch makes a test of a secured lab prove least
// privilege: at its end, the security plugin must have refused the
// drwatch user nothing while it ran (on a lab without security it does
// nothing).
func noRefusalsOfDrwatch(t *testing.T) {
	t.Helper()
	if !lab.Security {
		return
	}
	mark := markLogs(t)
	t.Cleanup(func() { requireNoRefusals(t, mark) })
}
