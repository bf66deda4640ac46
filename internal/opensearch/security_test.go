package opensearch_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The security plugin's answers, as the secured lab gave them
// (OpenSearch 2.19.3, opensearch-security 2.19.3.0).
const (
	labStopRefused       = `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [indices:admin/plugins/replication/index/stop] and User [name=drwatch, backend_roles=[], requestedTenant=null]"}],"type":"security_exception","reason":"no permissions for [indices:admin/plugins/replication/index/stop] and User [name=drwatch, backend_roles=[], requestedTenant=null]"},"status":403}`
	labBlockShardRefused = `{"acknowledged":false,"shards_acknowledged":false,"indices":[{"name":"blocktest","failed_shards":[{"id":"0","failures":[{"shard":0,"index":"blocktest","status":"FORBIDDEN","reason":{"type":"security_exception","reason":"no permissions for [indices:admin/block/add[s]] and User [name=drwatch, backend_roles=[], requestedTenant=null]"}}]}]}]}`
	labNoMapping         = `{"error":{"root_cause":[{"type":"security_exception","reason":"No mapping for User [name=drwatch, backend_roles=[], requestedTenant=null] on roles [lab_ccr_follower]"}],"type":"security_exception","reason":"No mapping for User [name=drwatch, backend_roles=[], requestedTenant=null] on roles [lab_ccr_follower]"},"status":403}`
)

func clientFor(t *testing.T, rawURL, user string, ca []byte, side string) *opensearch.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ep := config.Endpoint{Addresses: []*url.URL{u}, Username: user, CACert: ca}
	if user != "" {
		ep.Password = config.NewSecret("s3cret-never-shown")
	}
	c, err := opensearch.New(ep, opensearch.Options{Side: side})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRefusalsNameThePermissionTheSideAndTheUser(t *testing.T) {
	answers := map[string]struct {
		code int
		body string
	}{
		"/_plugins/_replication/orders-1/_stop":  {403, labStopRefused},
		"/_plugins/_replication/orders-1/_start": {403, labNoMapping},
		"/_cluster/health":                       {401, "Unauthorized"},
		"/blocktest/_block/write":                {200, labBlockShardRefused},
		"/fenced/_block/write":                   {200, `{"acknowledged":true,"shards_acknowledged":true,"indices":[{"name":"fenced","blocked":true}]}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.WriteHeader(a.code)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	c := clientFor(t, srv.URL, "drwatch", nil, "follower")

	err := c.StopReplication(t.Context(), "orders-1")
	e, ok := opensearch.AsError(err)
	if !ok || e.Class != observe.ClassAuth || e.Permission != "indices:admin/plugins/replication/index/stop" || e.User != "drwatch" {
		t.Fatalf("stop refused: %#v", err)
	}
	if want := "the follower refused indices:admin/plugins/replication/index/stop to user drwatch: add it to its role"; !strings.Contains(err.Error(), want) {
		t.Fatalf("stop refused: %q does not say %q", err, want)
	}

	// The block's shard-level action refused: HTTP 200, not acknowledged.
	lc := clientFor(t, srv.URL, "drwatch", nil, "leader")
	err = lc.BlockWrite(t.Context(), []string{"blocktest"})
	if want := "the leader refused indices:admin/block/add[s] to user drwatch: add it to its role"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("block refused on the shard: %v, want %q", err, want)
	}
	if err := lc.BlockWrite(t.Context(), []string{"fenced"}); err != nil {
		t.Fatalf("an acknowledged block: %v", err)
	}

	err = c.StartReplication(t.Context(), "orders-1", "leader", "orders-1", &config.UseRoles{LeaderClusterRole: "lab_ccr_leader", FollowerClusterRole: "lab_ccr_follower"})
	if want := "the follower refused user drwatch: No mapping for User"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("no mapping: %v, want %q", err, want)
	}

	_, err = c.ClusterHealth(t.Context())
	if want := "the follower refused the credentials of user drwatch (wrong password, or no such user)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("401: %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("the password is in the error: %v", err)
	}
	noUser := clientFor(t, srv.URL, "", nil, "leader")
	if _, err := noUser.ClusterHealth(t.Context()); err == nil || !strings.Contains(err.Error(), "the leader requires authentication: set username and password_file") {
		t.Fatalf("401 without credentials: %v", err)
	}
}

// selfSigned makes a server certificate for 127.0.0.1 valid from
// notBefore to notAfter, and its PEM.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired.lab"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCertificateErrorsSayWhyAndCountAsAnAnswer(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"green"}`)) })
	srv := httptest.NewTLSServer(ok)
	defer srv.Close()
	srvCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	expiredCert, expiredCA := selfSigned(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	expired := httptest.NewUnstartedServer(ok)
	expired.TLS = &tls.Config{Certificates: []tls.Certificate{expiredCert}, MinVersion: tls.VersionTLS12}
	expired.StartTLS()
	defer expired.Close()

	port := srv.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name, url string
		ca        []byte
		cert      string
		words     string
	}{
		{"unknown CA", srv.URL, nil, opensearch.CertUnknownAuthority, "the leader (127.0.0.1:" + itoa(port) + ") presented a certificate drwatch does not accept: its certificate is signed by an authority drwatch does not trust (unknown CA): set ca_file"},
		{"wrong host name", "https://localhost:" + itoa(port), srvCA, opensearch.CertHostname, "its certificate is not valid for host localhost (wrong host name; it is valid for example.com, *.example.com, 127.0.0.1, ::1)"},
		{"expired", expired.URL, expiredCA, opensearch.CertExpired, "its certificate has expired or is not valid yet: current time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientFor(t, tc.url, "", tc.ca, "leader")
			_, err := c.ClusterHealth(t.Context())
			e, ok := opensearch.AsError(err)
			if !ok || e.Class != observe.ClassTLS || e.Certificate != tc.cert {
				t.Fatalf("%#v", err)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("%q does not say %q", err, tc.words)
			}
			// A leader that presents a certificate answered: never leader_down.
			l := observe.Leader{Failure: &observe.Failure{Class: e.Class, Certificate: e.Certificate}}
			if !l.Answered() {
				t.Fatal("a certificate error counts as the leader not answering")
			}
		})
	}
	// With the right CA the same server is fine.
	if _, err := clientFor(t, srv.URL, "", srvCA, "leader").ClusterHealth(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
