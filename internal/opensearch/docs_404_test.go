package opensearch_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// A proxy's or ingress's 404 (no backend, a wrong route) is not
// OpenSearch saying "no such document": it is an error, so that a lease
// holder does not step down on it and a standby does not take it for a
// missing lease.
func TestGetDocProxy404IsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, "<html><body>404 Not Found</body></html>")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := opensearch.New(config.Endpoint{Addresses: []*url.URL{u}}, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.GetDoc(context.Background(), "ha", "orders")
	if err == nil {
		t.Fatalf("a proxy's HTML 404 read as an answer: %+v", d)
	}
}
