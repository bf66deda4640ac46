package lab

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// The secured lab's PKI: one CA, made here with crypto/x509 for each lab
// (never the security plugin's demo certificates), signing a certificate
// per node (TLS on HTTP and on transport, the remote cluster link
// included) and one admin certificate (the security plugin's admin_dn,
// for securityadmin). Keys are ECDSA P-256 in PKCS#8 PEM, which the
// security plugin reads.

// The subjects of the lab's certificates. Node n's is nodeSubject(n, i);
// every node's is listed in both clusters' plugins.security.nodes_dn, so
// the leader accepts the follower's nodes on its transport port (the
// remote cluster link) and the other way round.
const (
	labOrg      = "drwatch-lab"
	certsDir    = "certs" // under a node's config dir
	caFile      = "ca.pem"
	nodeCert    = "node.pem"
	nodeKey     = "node-key.pem"
	adminCN     = "lab-admin"
	certLife    = 30 * 24 * time.Hour
	clockSkewed = time.Hour // certificates start an hour back
)

func nodeSubject(n Node, i int) pkix.Name {
	return pkix.Name{Organization: []string{labOrg}, OrganizationalUnit: []string{"nodes"}, CommonName: fmt.Sprintf("%s-%d.lab", n, i)}
}

func adminSubject() pkix.Name {
	return pkix.Name{Organization: []string{labOrg}, OrganizationalUnit: []string{"admins"}, CommonName: adminCN}
}

// pki is a CA that signs the lab's certificates.
type pki struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }

// newPKI makes a fresh CA.
func newPKI(now time.Time) (*pki, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{labOrg}, CommonName: "drwatch lab CA"},
		NotBefore:             now.Add(-clockSkewed),
		NotAfter:              now.Add(certLife),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the lab CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &pki{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// loadPKI reads a CA written by save.
func loadPKI(certPath, keyPath string) (*pki, error) {
	cb, err := os.ReadFile(certPath) //nolint:gosec // the lab's own CA
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath) //nolint:gosec // the lab's own CA key
	if err != nil {
		return nil, err
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, fmt.Errorf("%s or %s holds no PEM block", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", keyPath)
	}
	return &pki{cert: cert, key: signer, certPEM: cb}, nil
}

// keyPEM is the CA key as PKCS#8 PEM.
func (p *pki) keyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// leaf is a certificate the CA signed, with its key, both PEM.
type leaf struct {
	CertPEM, KeyPEM []byte
	Subject         string // RFC 2253, as nodes_dn and admin_dn want it
}

// issue signs a certificate for subject: for a node (server and client
// authentication: transport TLS is mutual) valid for 127.0.0.1 and
// localhost, or for a client only (the admin).
func (p *pki) issue(subject pkix.Name, node bool, now time.Time) (leaf, error) {
	key, err := newKey()
	if err != nil {
		return leaf{}, err
	}
	sn, err := serial()
	if err != nil {
		return leaf{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      subject,
		NotBefore:    now.Add(-clockSkewed),
		NotAfter:     now.Add(certLife),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if node {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames = []string{"localhost", subject.CommonName}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		return leaf{}, fmt.Errorf("sign %s: %w", subject, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return leaf{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return leaf{}, err
	}
	return leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Subject: cert.Subject.String(),
	}, nil
}

// pool is a cert pool holding the lab CA.
func caPool(certPEM []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(certPEM) {
		return nil, errors.New("the lab CA file holds no PEM certificate")
	}
	return p, nil
}
