package probe_test

import (
	"encoding/pem"
	"net/http/httptest"
	"testing"
)

func pemCert(t *testing.T, srv *httptest.Server) []byte {
	t.Helper()
	cert := srv.Certificate()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
