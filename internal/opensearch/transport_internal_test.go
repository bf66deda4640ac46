package opensearch

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
)

type recordTransport struct{ paths []string }

func (r *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.paths = append(r.paths, req.URL.Path)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// The client library's own background requests (its node stats poller)
// never leave drwatch; drwatch's own requests do, and are counted.
func TestOnlyDrwatchsOwnRequestsLeave(t *testing.T) {
	rec := &recordTransport{}
	var n atomic.Int64
	tr := &countingTransport{next: rec, n: &n}
	lib, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:9200/_nodes/_local/stats/jvm,breaker,thread_pool", nil)
	if _, err := tr.RoundTrip(lib); !errors.Is(err, errLibraryRequest) {
		t.Fatalf("the library's request: %v", err)
	}
	own, _ := http.NewRequestWithContext(context.WithValue(context.Background(), ownRequest{}, true), http.MethodGet, "http://127.0.0.1:9200/_cluster/health", nil)
	if resp, err := tr.RoundTrip(own); err != nil || resp.StatusCode != 200 {
		t.Fatalf("drwatch's request: %v", err)
	}
	if len(rec.paths) != 1 || rec.paths[0] != "/_cluster/health" || n.Load() != 1 {
		t.Fatalf("sent %v, counted %d", rec.paths, n.Load())
	}
}
