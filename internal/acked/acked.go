// Package acked judges a failover the way a client sees it: it writes
// documents with known ids, records the ids the leader acknowledged, and
// after the failover looks each of them up on the promoted follower. A lag
// figure is a prediction; the acknowledged writes found, by id, are the
// verdict. The end-to-end tests and the demo use it against the real lab.
package acked

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// conn is how the package reaches the clusters: plain HTTP, or (Use)
// TLS with basic credentials for a secured cluster.
var conn = struct {
	mu         sync.Mutex
	transport  http.RoundTripper
	user, pass string
}{transport: http.DefaultTransport}

// Use makes every later call go through transport with basic credentials
// user/pass (a secured cluster: TLS trusting its CA); user "" sends none.
func Use(transport http.RoundTripper, user, pass string) {
	conn.mu.Lock()
	defer conn.mu.Unlock()
	conn.transport, conn.user, conn.pass = transport, user, pass
}

func client(timeout time.Duration) (*http.Client, string, string) {
	conn.mu.Lock()
	defer conn.mu.Unlock()
	return &http.Client{Transport: conn.transport, Timeout: timeout}, conn.user, conn.pass
}

func authorize(req *http.Request, user, pass string) {
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
}

// Call sends one request (a JSON body when body is not empty) and returns
// the body of a 2xx answer, or an error naming the status and the answer.
func Call(ctx context.Context, method, url, body string) ([]byte, error) {
	return do(ctx, method, url, body)
}

func do(ctx context.Context, method, url, body string) ([]byte, error) {
	c, user, pass := client(0)
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req, user, pass)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s %s: HTTP %d %s", method, url, resp.StatusCode, b)
	}
	return b, nil
}

// Bulk writes n documents with the ids <index>-<from>... to index on the
// cluster at base in one _bulk request, and returns the ids it
// acknowledged (item status 200 or 201).
func Bulk(ctx context.Context, base, index string, from, n int) ([]string, error) {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"%s-%d\"}}\n{\"n\":%d,\"at\":%q}\n", index, i, i, time.Now().Format(time.RFC3339Nano))
	}
	body, err := do(ctx, http.MethodPost, base+"/"+index+"/_bulk", b.String())
	if err != nil {
		return nil, err
	}
	var r struct {
		Items []map[string]struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("bulk answer of %s: %w", index, err)
	}
	var ids []string
	for _, it := range r.Items {
		for _, res := range it {
			if res.Status == http.StatusOK || res.Status == http.StatusCreated {
				ids = append(ids, res.ID)
			}
		}
	}
	return ids, nil
}

// IDs returns the id of every document of index on the cluster at base,
// after a refresh. It reads one page of 10,000 and fails beyond that.
func IDs(ctx context.Context, base, index string) (map[string]bool, error) {
	if _, err := do(ctx, http.MethodPost, base+"/"+index+"/_refresh", ""); err != nil {
		return nil, err
	}
	body, err := do(ctx, http.MethodPost, base+"/"+index+"/_search",
		`{"size":10000,"_source":false,"track_total_hits":true,"query":{"match_all":{}}}`)
	if err != nil {
		return nil, err
	}
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
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("search of %s: %w", index, err)
	}
	if r.Hits.Total.Value != len(r.Hits.Hits) {
		return nil, fmt.Errorf("%s has %d documents, more than one page of ids", index, r.Hits.Total.Value)
	}
	out := make(map[string]bool, len(r.Hits.Hits))
	for _, h := range r.Hits.Hits {
		out[h.ID] = true
	}
	return out, nil
}

// Missing returns the ids of acked that index lacks on the cluster at base.
func Missing(ctx context.Context, base, index string, acked []string) ([]string, error) {
	have, err := IDs(ctx, base, index)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range acked {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Stream writes one document at a time, round robin over its indices, to
// a cluster until halted, and records every write the cluster
// acknowledged (HTTP 201). Its requests time out after a second, so a dead
// leader does not stall it.
type Stream struct {
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	acked map[string][]string
}

// StartStream starts writing to indices on the cluster at base, one
// document every interval, with the ids <index>-s<n>.
func StartStream(base string, indices []string, every time.Duration) *Stream {
	return StartStreamTagged(base, indices, every, "s")
}

// StartStreamTagged is StartStream with the ids <index>-<tag><n>: streams
// of different tags never write the same id.
func StartStreamTagged(base string, indices []string, every time.Duration, tag string) *Stream {
	s := &Stream{stop: make(chan struct{}), done: make(chan struct{}), acked: map[string][]string{}}
	c, user, pass := client(time.Second)
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-time.After(every):
			}
			idx := indices[i%len(indices)]
			id := fmt.Sprintf("%s-%s%d", idx, tag, i)
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, base+"/"+idx+"/_doc/"+id, strings.NewReader(`{"stream":true}`))
			if err != nil {
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			authorize(req, user, pass)
			resp, err := c.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				s.mu.Lock()
				s.acked[idx] = append(s.acked[idx], id)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// Halt stops the writes and waits for the last one to finish.
func (s *Stream) Halt() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Acked returns the ids of index the cluster acknowledged so far.
func (s *Stream) Acked(index string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acked[index]...)
}

// Total is the number of acknowledged writes so far.
func (s *Stream) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ids := range s.acked {
		n += len(ids)
	}
	return n
}
