// Package memdocs is an in-memory document store with OpenSearch's
// optimistic concurrency semantics, for unit tests of what keeps state in
// a cluster's documents (internal/ha): _seq_no grows with every write to
// the shard, _primary_term is fixed; a write conditional on another
// version answers 409; _create of an existing document answers 409. e2e
// TestLeasePrimitivesOnTheFollower runs the lease's rounds against the
// real cluster.
package memdocs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
)

// Store keeps one index's documents. Its fields are the test's to read
// and set, under Mu.
type Store struct {
	Mu     sync.Mutex
	Index  bool // the index exists
	Docs   map[string]opensearch.Doc
	Seq    int64
	Down   bool // every request fails as a refused connection
	Writes int
	Reads  int
}

// ErrDown is every request's error while Down.
var ErrDown = errors.New("connection refused")

// New is an empty store whose index does not exist yet.
func New() *Store { return &Store{Docs: map[string]opensearch.Doc{}} }

// GetDoc reads a document.
func (m *Store) GetDoc(_ context.Context, index, id string) (opensearch.Doc, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Reads++
	if m.Down {
		return opensearch.Doc{}, ErrDown
	}
	if !m.Index {
		return opensearch.Doc{IndexMissing: true}, nil
	}
	return m.Docs[id], nil
}

// PutDoc writes a document if it is still at version prev.
func (m *Store) PutDoc(_ context.Context, index, id string, src []byte, prev opensearch.Doc) (opensearch.Doc, error) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	m.Writes++
	if m.Down {
		return opensearch.Doc{}, ErrDown
	}
	cur := m.Docs[id]
	if cur.Found != prev.Found || cur.SeqNo != prev.SeqNo || cur.PrimaryTerm != prev.PrimaryTerm {
		return opensearch.Doc{}, opensearch.ErrVersionConflict
	}
	m.Seq++
	d := opensearch.Doc{Found: true, SeqNo: m.Seq, PrimaryTerm: 1, Source: append([]byte(nil), src...)}
	m.Docs[id] = d
	return d, nil
}

// CreateIndex creates the index (an existing one is fine).
func (m *Store) CreateIndex(context.Context, string, []byte) error {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	if m.Down {
		return ErrDown
	}
	m.Index = true
	return nil
}

// SetDown makes every request fail (true) or succeed again.
func (m *Store) SetDown(down bool) {
	m.Mu.Lock()
	m.Down = down
	m.Mu.Unlock()
}

// Counts returns the writes and reads so far.
func (m *Store) Counts() (writes, reads int) {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	return m.Writes, m.Reads
}

// Clock is the one clock of the daemons of a test that share a Store
// (each process's monotonic clock), moved by the test. The zero value is
// not usable: NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Unix(1_000_000, 0)} }

// Now is the clock's time (a lease's Now).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
