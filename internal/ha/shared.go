package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/drwatch/drwatch/internal/opensearch"
)

// Shared is a pair's operator state that both daemons see, beside the
// lease in the follower cluster: what the holder publishes (its decision
// state and a promotion's progress, so that a standby shows it and a new
// holder resumes it) and the commands a standby's API received for the
// holder (pause, resume, approve, deny, promote). Every write is
// conditional on the version read, so that two writers never lose each
// other's change.
type Shared struct {
	Store Store
	Index string
	Pair  string
	// Retries bounds the conditional writes retried after a conflict
	// (default 5).
	Retries int
}

// Published is what the holder published last.
type Published struct {
	Holder string    `json:"holder"`
	Term   int64     `json:"term"`
	At     time.Time `json:"at"`
	// State and Promotion are the pair's decision state and the promotion
	// in progress (if any), as the journal stores them.
	State     json.RawMessage `json:"state,omitempty"`
	Promotion json.RawMessage `json:"promotion,omitempty"`
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

func (s *Shared) stateID() string { return s.Pair + ".state" }
func (s *Shared) inboxID() string { return s.Pair + ".inbox" }

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
	doc, err := s.Store.GetDoc(ctx, s.Index, s.stateID())
	if err != nil || !doc.Found {
		return Published{}, false, err
	}
	var p Published
	if err := json.Unmarshal(doc.Source, &p); err != nil {
		return Published{}, false, fmt.Errorf("the published state of %s is not drwatch's: %v", s.Pair, err)
	}
	return p, true, nil
}

// Send queues a command for the holder.
func (s *Shared) Send(ctx context.Context, c Command) error {
	return s.update(ctx, s.inboxID(), func(cur []byte) ([]byte, error) {
		var in inbox
		if cur != nil {
			if err := json.Unmarshal(cur, &in); err != nil {
				return nil, fmt.Errorf("the command inbox of %s is not drwatch's: %v", s.Pair, err)
			}
		}
		in.Commands = append(in.Commands, c)
		return json.Marshal(in)
	})
}

// Take returns the queued commands, oldest first, and empties the queue:
// a command is handed out once.
func (s *Shared) Take(ctx context.Context) ([]Command, error) {
	var taken []Command
	err := s.update(ctx, s.inboxID(), func(cur []byte) ([]byte, error) {
		taken = nil
		if cur == nil {
			return nil, nil
		}
		var in inbox
		if err := json.Unmarshal(cur, &in); err != nil {
			return nil, fmt.Errorf("the command inbox of %s is not drwatch's: %v", s.Pair, err)
		}
		if len(in.Commands) == 0 {
			return nil, nil
		}
		taken = in.Commands
		return json.Marshal(inbox{Commands: []Command{}})
	})
	return taken, err
}

// update reads a document, lets f compute its next content (nil: leave
// it), and writes it conditionally, retrying a conflict with a fresh read.
func (s *Shared) update(ctx context.Context, id string, f func(cur []byte) ([]byte, error)) error {
	for range s.retries() {
		doc, err := s.Store.GetDoc(ctx, s.Index, id)
		if err == nil && doc.IndexMissing {
			if err = s.Store.CreateIndex(ctx, s.Index, IndexBody); err == nil {
				doc, err = s.Store.GetDoc(ctx, s.Index, id)
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
		_, err = s.Store.PutDoc(ctx, s.Index, id, next, doc)
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
