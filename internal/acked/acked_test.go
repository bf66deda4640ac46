package acked_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
)

// cluster is a fake with the _bulk, _doc, _refresh and _search answers of
// OpenSearch 2.19 (the shapes the lab answers); it rejects every third
// bulk item with a 429, as a loaded cluster does, and keeps what it took.
type cluster struct {
	mu   sync.Mutex
	docs map[string]bool
	down bool
}

func (c *cluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/_bulk"):
		b, _ := io.ReadAll(r.Body)
		var items []string
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if i%2 == 1 {
				continue
			}
			var a struct {
				Index struct {
					ID string `json:"_id"`
				} `json:"index"`
			}
			_ = json.Unmarshal([]byte(line), &a)
			status := 201
			if (i/2)%3 == 2 {
				status = 429
			} else {
				c.docs[a.Index.ID] = true
			}
			items = append(items, fmt.Sprintf(`{"index":{"_index":"x","_id":%q,"status":%d}}`, a.Index.ID, status))
		}
		fmt.Fprintf(w, `{"took":3,"errors":true,"items":[%s]}`, strings.Join(items, ","))
	case strings.Contains(r.URL.Path, "/_doc/"):
		c.docs[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]] = true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"result":"created"}`)
	case strings.HasSuffix(r.URL.Path, "/_refresh"):
		fmt.Fprint(w, `{"_shards":{"total":1,"successful":1,"failed":0}}`)
	case strings.HasSuffix(r.URL.Path, "/_search"):
		var hits []string
		for id := range c.docs {
			hits = append(hits, fmt.Sprintf(`{"_index":"x","_id":%q,"_score":1.0}`, id))
		}
		fmt.Fprintf(w, `{"hits":{"total":{"value":%d,"relation":"eq"},"hits":[%s]}}`, len(hits), strings.Join(hits, ","))
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func TestBulkRecordsOnlyAcknowledgedWrites(t *testing.T) {
	c := &cluster{docs: map[string]bool{}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	ctx := context.Background()
	ids, err := acked.Bulk(ctx, srv.URL, "orders", 0, 9)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orders-0", "orders-1", "orders-3", "orders-4", "orders-6", "orders-7"}; !slices.Equal(ids, want) {
		t.Fatalf("acknowledged %v, want %v (the 429s are not)", ids, want)
	}
	delete(c.docs, "orders-4") // lost
	miss, err := acked.Missing(ctx, srv.URL, "orders", append(ids, "never-written"))
	if err != nil || !slices.Equal(miss, []string{"orders-4", "never-written"}) {
		t.Fatalf("missing = %v, %v", miss, err)
	}
	c.down = true
	if _, err := acked.Missing(ctx, srv.URL, "orders", ids); err == nil {
		t.Fatal("a cluster that does not answer must be an error, not 'nothing missing'")
	}
}

func TestStreamStopsRecordingWhenTheClusterStopsAcknowledging(t *testing.T) {
	c := &cluster{docs: map[string]bool{}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := acked.StartStream(srv.URL, []string{"a", "b"}, time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for s.Total() < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c.mu.Lock()
	c.down = true
	c.mu.Unlock()
	before := s.Total()
	for range 20 {
		time.Sleep(time.Millisecond) // writes go on, unacknowledged
	}
	s.Halt()
	s.Halt() // idempotent
	if before < 20 || s.Total() > before+1 {
		t.Fatalf("acknowledged %d before the outage, %d after", before, s.Total())
	}
	for _, idx := range []string{"a", "b"} {
		for _, id := range s.Acked(idx) {
			if !c.docs[id] || !strings.HasPrefix(id, idx+"-s") {
				t.Fatalf("recorded %s, which %s did not take", id, idx)
			}
		}
	}
}
