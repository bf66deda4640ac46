//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/acked"
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
// index and returns the ids the leader acknowledged.
func writeIDs(t *testing.T, index string, from, n int) []string {
	t.Helper()
	ids, err := acked.Bulk(context.Background(), lab.LeaderURL, index, from, n)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// idsOn returns the ids of every document of an index on a cluster.
func idsOn(t *testing.T, base, index string) map[string]bool {
	t.Helper()
	ids, err := acked.IDs(context.Background(), base, index)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// missing returns the acknowledged ids an index lacks on a cluster.
func missing(t *testing.T, base, index string, ids []string) []string {
	t.Helper()
	m, err := acked.Missing(context.Background(), base, index, ids)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startWriter writes to the leader's indices continuously until the test
// ends (or Halt), recording what the leader acknowledged.
func startWriter(t *testing.T, indices []string, every time.Duration) *acked.Stream {
	t.Helper()
	s := acked.StartStream(lab.LeaderURL, indices, every)
	t.Cleanup(s.Halt)
	return s
}
