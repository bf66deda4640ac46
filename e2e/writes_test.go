//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// bulkErrors parses a _bulk answer and reports whether any item failed.
func bulkErrors(t *testing.T, body []byte) bool {
	t.Helper()
	var r struct {
		Errors *bool `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Errors == nil {
		t.Fatalf("bulk answer is not a bulk result: %v: %s", err, body)
	}
	return *r.Errors
}

// writeIDs indexes n documents with the ids <index>-<from>... into a leader
// index in one bulk request, and returns the ids the leader acknowledged
// (item status 201 or 200).
func writeIDs(t *testing.T, index string, from, n int) []string {
	t.Helper()
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"%s-%d\"}}\n{\"n\":%d,\"at\":%q}\n", index, i, i, time.Now().Format(time.RFC3339Nano))
	}
	code, body := osDo(t, lab.LeaderURL, "POST", "/"+index+"/_bulk", b.String())
	if code != 200 {
		t.Fatalf("bulk into %s: HTTP %d %s", index, code, body)
	}
	return ackedIDs(t, body)
}

func ackedIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var r struct {
		Items []map[string]struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("bulk answer: %v: %s", err, body)
	}
	var ids []string
	for _, it := range r.Items {
		for _, res := range it {
			if res.Status == 200 || res.Status == 201 {
				ids = append(ids, res.ID)
			}
		}
	}
	return ids
}

// idsOn returns the ids of every document of an index on a cluster.
func idsOn(t *testing.T, base, index string) map[string]bool {
	t.Helper()
	osDo(t, base, "POST", "/"+index+"/_refresh", "")
	b := osOK(t, base, "POST", "/"+index+"/_search", `{"size":10000,"_source":false,"track_total_hits":true,"query":{"match_all":{}}}`)
	var r struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("search %s: %v", index, err)
	}
	if r.Hits.Total.Value != len(r.Hits.Hits) {
		t.Fatalf("%s has %d documents, more than one page of ids", index, r.Hits.Total.Value)
	}
	out := make(map[string]bool, len(r.Hits.Hits))
	for _, h := range r.Hits.Hits {
		out[h.ID] = true
	}
	return out
}

// missing returns the acknowledged ids an index lacks on a cluster.
func missing(t *testing.T, base, index string, acked []string) []string {
	t.Helper()
	have := idsOn(t, base, index)
	var out []string
	for _, id := range acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

// streamWriter writes one document at a time, round robin over indices,
// to the leader until stopped, and records every write the leader
// acknowledged. Its requests time out after a second: a dead leader does
// not stall it.
type streamWriter struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked map[string][]string
	lastAck,
	firstFail time.Time
}

func startWriter(t *testing.T, indices []string, every time.Duration) *streamWriter {
	t.Helper()
	w := &streamWriter{stop: make(chan struct{}), done: make(chan struct{}), acked: map[string][]string{}}
	client := &http.Client{Timeout: time.Second}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(every):
			}
			idx := indices[i%len(indices)]
			id := fmt.Sprintf("%s-s%d", idx, i)
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, lab.LeaderURL+"/"+idx+"/_doc/"+id, strings.NewReader(`{"stream":true}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusCreated
			if resp != nil {
				resp.Body.Close()
			}
			w.mu.Lock()
			if ok {
				w.acked[idx] = append(w.acked[idx], id)
				w.lastAck = time.Now()
			} else if w.firstFail.IsZero() {
				w.firstFail = time.Now()
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *streamWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *streamWriter) ids(index string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked[index]...)
}

func (w *streamWriter) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ids := range w.acked {
		n += len(ids)
	}
	return n
}
