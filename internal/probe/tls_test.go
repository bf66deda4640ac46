package probe_test

import (
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"testing"
)

func pemCert(t *testing.T, srv *httptest.Server) []byte {
	t.Helper()
	var cert *x509.Certificate = srv.Certificate()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
