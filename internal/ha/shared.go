package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
)

// Shared is a pair's operator state that both daemons see, beside the
// lease in the follower cluster: what the holder publishes (its decision
// state and a promotion's progress, so that a standby shows it and a new
// holder resumes it) and the commands a standby's API received for the
// holder (pause, resume, approve, deny, promote). Every write is
// conditional on the version read, so that two writers never lose each
// other's change. A command stays in the inbox until the holder
// acknowledges it by id after applying it: an answer lost on the way
// loses no command, and may hand one out again, so a command must be
// safe to apply twice (an approval names its request; pause, resume and
// deny are idempotent; a promote of a pair already promoting is refused).
type Shared struct {
	Store Store
	Index string
	Pair  string
	// Retries bounds the conditional writes retried after a conflict
	// (default 5).
	Retries int

	mu sync.RWMutex // guards Store once in use (SetStore)
}

func (s *Shared) store() Store {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.Store
}

// Published is what the holder published last.
type Published struct {
	Holder string `json:"holder"`
	// Instance names the holder's journal (journal.Instance): a daemon
	// that takes the lease over keeps its own journal only when it
	// published last itself.
	Instance string    `json:"instance"`
	Term     int64     `json:"term"`
	At       time.Time `json:"at"`
	// State and Promotion are the pair's decision state and the promotion
	// in progress (if any), as the journal stores them.
	State     json.RawMessage `json:"state,omitempty"`
	Promotion json.RawMessage `json:"promotion,omitempty"`
	// Answers are the holder's answers to the latest commands it took
	// from the inbox (the daemon that forwarded one reads it here).
	Answers []Answer `json:"answers,omitempty"`
}

// Answer is how the holder answered a forwarded command.
type Answer struct {
	ID    string `json:"id"`
	Error string `json:"error,omitempty"` // "" applied
	// Conflict: refused in the pair's state (an HTTP 409), not failed.
	Conflict bool `json:"conflict,omitempty"`
}

// Command is a human's command received by a standby, for the holder.
type Command struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"`
	Via    string          `json:"via"`    // the daemon that received it
	Action string          `json:"action"` // pause, resume, approve, deny, promote
	Body   json.RawMessage `json:"body,omitempty"`
}

type inbox struct {
	Commands []Command `json:"commands"`
}

// Document ids beside the lease (whose id is the pair's name).
const (
	stateSuffix = ".state"
	inboxSuffix = ".inbox"
)

func (s *Shared) stateID() string { return s.Pair + stateSuffix }
func (s *Shared) inboxID() string { return s.Pair + inboxSuffix }

func (s *Shared) retries() int {
	if s.Retries > 0 {
		return s.Retries
	}
	return 5
}

// ErrStaleTerm is returned by Publish when a holder of a later term has
// published: this daemon's term is over.
var ErrStaleTerm = errors.New("a later term has published: this daemon no longer holds the lease")

// Publish replaces the published state with p, unless a later term
// published already.
func (s *Shared) Publish(ctx context.Context, p Published) error {
	return s.update(ctx, s.stateID(), func(cur []byte) ([]byte, error) {
		if cur != nil {
			var old Published
			if err := json.Unmarshal(cur, &old); err != nil {
				return nil, fmt.Errorf("the published state of %s is not drwatch's: %v", s.Pair, err)
			}
			if old.Term > p.Term {
				return nil, fmt.Errorf("%w (term %d by %q, this daemon's %d)", ErrStaleTerm, old.Term, old.Holder, p.Term)
			}
		}
		return json.Marshal(p)
	})
}

// Read returns the published state (found false: none yet).
func (s *Shared) Read(ctx context.Context) (Published, bool, error) {
	doc, err := s.store().GetDoc(ctx, s.Index, s.stateID())
	if err != nil || !doc.Found {
		return Published{}, false, err
	}
	var p Published
	if err := json.Unmarshal(doc.Source, &p); err != nil {
		return Published{}, false, fmt.Errorf("the published state of %s is not drwatch's: %v", s.Pair, err)
	}
	return p, true, nil
}

// Send queues a command for the holder; a command whose id is queued
// already is not queued twice (a retried send).
func (s *Shared) Send(ctx context.Context, c Command) error {
	return s.update(ctx, s.inboxID(), func(cur []byte) ([]byte, error) {
		in, err := s.inbox(cur)
		if err != nil {
			return nil, err
		}
		for _, q := range in.Commands {
			if q.ID == c.ID {
				return nil, nil
			}
		}
		in.Commands = append(in.Commands, c)
		return json.Marshal(in)
	})
}

// Pending returns the queued commands, oldest first. They stay queued
// until Ack.
func (s *Shared) Pending(ctx context.Context) ([]Command, error) {
	doc, err := s.store().GetDoc(ctx, s.Index, s.inboxID())
	if err != nil || !doc.Found {
		return nil, err
	}
	in, err := s.inbox(doc.Source)
	return in.Commands, err
}

// Ack removes applied commands by id; ids no longer queued are ignored
// (a retried acknowledgement).
func (s *Shared) Ack(ctx context.Context, ids ...string) error {
	done := map[string]bool{}
	for _, id := range ids {
		done[id] = true
	}
	return s.update(ctx, s.inboxID(), func(cur []byte) ([]byte, error) {
		in, err := s.inbox(cur)
		if err != nil {
			return nil, err
		}
		keep := []Command{}
		for _, c := range in.Commands {
			if !done[c.ID] {
				keep = append(keep, c)
			}
		}
		if len(keep) == len(in.Commands) {
			return nil, nil
		}
		return json.Marshal(inbox{Commands: keep})
	})
}

func (s *Shared) inbox(cur []byte) (inbox, error) {
	var in inbox
	if cur == nil {
		return in, nil
	}
	if err := json.Unmarshal(cur, &in); err != nil {
		return inbox{}, fmt.Errorf("the command inbox of %s is not drwatch's: %v", s.Pair, err)
	}
	return in, nil
}

// update reads a document, lets f compute its next content (nil: leave
// it), and writes it conditionally, retrying a conflict with a fresh read.
func (s *Shared) update(ctx context.Context, id string, f func(cur []byte) ([]byte, error)) error {
	for range s.retries() {
		doc, err := s.store().GetDoc(ctx, s.Index, id)
		if err == nil && doc.IndexMissing {
			if err = s.store().CreateIndex(ctx, s.Index, IndexBody); err == nil {
				doc, err = s.store().GetDoc(ctx, s.Index, id)
			}
		}
		if err != nil {
			return fmt.Errorf("read %s in %s: %w", id, s.Index, err)
		}
		var cur []byte
		if doc.Found {
			cur = doc.Source
		}
		next, err := f(cur)
		if err != nil || next == nil {
			return err
		}
		_, err = s.store().PutDoc(ctx, s.Index, id, next, doc)
		if errors.Is(err, opensearch.ErrVersionConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s in %s: %w", id, s.Index, err)
		}
		return nil
	}
	return fmt.Errorf("write %s in %s: changed by another daemon %d times in a row", id, s.Index, s.retries())
}
