// Package journal keeps drwatch's decisions durable: one record per pair
// in state_dir, holding the pair's policy state, the progress of its
// promotion and a bounded history of transitions. Every save is atomic and
// durable (write a temp file, fsync, rename, fsync the directory) and
// happens before drwatch acts on what it records. A record that cannot be
// read stops drwatch with an error: it never silently starts fresh.
//
// One process owns a state_dir at a time (an flock on state_dir/.lock), so
// the daemon and a manual `drwatch promote` cannot both write.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drwatch/drwatch/internal/policy"
	"github.com/drwatch/drwatch/internal/promote"
)

// Version of the record format.
const Version = 1

// HistoryLimit bounds the transitions kept per pair.
const HistoryLimit = 200

// Record is everything drwatch remembers about one pair.
type Record struct {
	Version   int                `json:"version"`
	Pair      string             `json:"pair"`
	State     policy.State       `json:"state"`
	Promotion *promote.Promotion `json:"promotion,omitempty"`
	History   []Transition       `json:"history"`
}

// Transition is one journaled change of phase (or a command's answer).
type Transition struct {
	At      time.Time      `json:"at"`
	From    policy.Phase   `json:"from"`
	To      policy.Phase   `json:"to"`
	Events  []policy.Event `json:"events,omitempty"`
	Reasons []string       `json:"reasons"`
}

// EventNames are the transition's events in the contract's words.
func (t Transition) EventNames() []string { return policy.EventNames(t.Events) }

// TransitionOf is the history entry a decision makes when it is applied
// at now to a pair in state old, and whether it makes one: a change of
// phase, an event, an abandoned promotion, or a human's command (even one
// that changes nothing but a pause's expiry). A change of phase is dated
// when the phase was entered, the rest at now. The watcher and the replay
// both keep their history with it.
func TransitionOf(old policy.State, d policy.Decision, command bool, now time.Time) (Transition, bool) {
	if d.State.Phase == old.Phase && len(d.Events) == 0 && !d.Abandon && !command {
		return Transition{}, false
	}
	at := d.State.Since // when the phase was entered
	if d.State.Phase == old.Phase {
		at = now // events or a command within the phase
	}
	return Transition{At: at, From: old.Phase, To: d.State.Phase, Events: d.Events, Reasons: d.State.Reasons}, true
}

// Journal is an open state_dir.
type Journal struct {
	dir  string
	lock *os.File
}

// ErrLocked means another drwatch process owns the state_dir.
var ErrLocked = errors.New("state_dir is in use by another drwatch process")

// Open creates state_dir if needed and takes its lock.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	lockPath := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- state_dir from config
	if err != nil {
		return nil, fmt.Errorf("state_dir lock %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(lockPath) // #nosec G304
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (held by pid %s)", ErrLocked, dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("state_dir lock %s: %w", lockPath, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Journal{dir: dir, lock: f}, nil
}

// Close releases the lock.
func (j *Journal) Close() error {
	if j.lock == nil {
		return nil
	}
	err := j.lock.Close()
	j.lock = nil
	return err
}

// Dir is the state_dir.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) path(pair string) string { return filepath.Join(j.dir, pair+".json") }

// Load reads a pair's record; (nil, nil) when the pair has none yet. A
// record that exists but cannot be read or parsed is an error.
func (j *Journal) Load(pair string) (*Record, error) {
	p := j.path(pair)
	b, err := os.ReadFile(p) // #nosec G304 -- pair names are validated
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", p, err)
	}
	var r Record
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	err = dec.Decode(&r)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the record")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s is corrupt (%w); drwatch will not start fresh over it: inspect it, and move it aside only if the pair's real state is known", p, err)
	}
	if r.Version != Version {
		return nil, fmt.Errorf("journal %s has version %d; this drwatch reads version %d", p, r.Version, Version)
	}
	if r.Pair != pair {
		return nil, fmt.Errorf("journal %s belongs to pair %q, not %q", p, r.Pair, pair)
	}
	if r.State.Phase == "" {
		return nil, fmt.Errorf("journal %s is corrupt: no phase", p)
	}
	if r.Promotion != nil {
		steps, err := j.loadSteps(pair, r.Promotion.ID)
		if err != nil {
			return nil, err
		}
		promote.UpgradeSteps(steps)
		r.Promotion.Steps = steps
	}
	r.State = policy.Upgrade(r.State)
	return &r, nil
}

func (j *Journal) stepsPath(pair string) string { return filepath.Join(j.dir, pair+".steps.jsonl") }

type stepLine struct {
	Promotion string       `json:"promotion"`
	Step      promote.Step `json:"step"`
	// Reset: the promotion's steps before this line are replaced by
	// Steps (ReplaceSteps): the reset and its steps are one line, so that
	// a torn write leaves either the old steps or all the new ones. (A
	// reset line without Steps, as earlier versions wrote it, is followed
	// by the new steps' own lines.)
	Reset bool           `json:"reset,omitempty"`
	Steps []promote.Step `json:"steps,omitempty"`
}

// loadSteps reads the steps of promotion id. A torn last line (a crash in
// the middle of an append, before its fsync) is ignored; a bad line before
// it is corruption.
func (j *Journal) loadSteps(pair, id string) ([]promote.Step, error) {
	p := j.stepsPath(pair)
	b, err := os.ReadFile(p) // #nosec G304 -- pair names are validated
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", p, err)
	}
	lines := strings.Split(string(b), "\n")
	var steps []promote.Step
	for i, line := range lines {
		if line == "" {
			continue
		}
		var sl stepLine
		if err := json.Unmarshal([]byte(line), &sl); err != nil {
			if i == len(lines)-1 {
				break // torn final append: never acted on (fsync comes first)
			}
			return nil, fmt.Errorf("journal %s is corrupt at line %d (%w); drwatch will not guess the promotion's progress", p, i+1, err)
		}
		switch {
		case sl.Promotion != id:
		case sl.Reset:
			steps = slices.Clone(sl.Steps)
		default:
			steps = append(steps, sl.Step)
		}
	}
	return steps, nil
}

// AppendSteps durably appends steps of promotion id to the pair's step log
// (one fsync for the batch) and to p.Steps.
func (j *Journal) AppendSteps(pair string, p *promote.Promotion, steps ...promote.Step) error {
	return j.appendSteps(pair, p, false, steps)
}

// ReplaceSteps durably replaces the steps of promotion p with steps, in
// the log (one reset line that carries them, one fsync) and in p.Steps: with
// ha, a new holder takes up the steps the previous holder published when
// its own record of the promotion went another way.
func (j *Journal) ReplaceSteps(pair string, p *promote.Promotion, steps ...promote.Step) error {
	p.Steps = nil
	return j.appendSteps(pair, p, true, steps)
}

func (j *Journal) appendSteps(pair string, p *promote.Promotion, reset bool, steps []promote.Step) error {
	if len(steps) == 0 && !reset {
		return nil
	}
	var b strings.Builder
	lines := make([]stepLine, 0, len(steps)+1)
	if reset {
		lines = append(lines, stepLine{Promotion: p.ID, Reset: true, Steps: steps})
	} else {
		for _, st := range steps {
			lines = append(lines, stepLine{Promotion: p.ID, Step: st})
		}
	}
	for _, sl := range lines {
		line, err := json.Marshal(sl)
		if err != nil {
			return fmt.Errorf("journal: encode step: %w", err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	_, statErr := os.Stat(j.stepsPath(pair))
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(j.stepsPath(pair), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return fmt.Errorf("journal: repair steps log %s: %w", j.stepsPath(pair), err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("journal: append steps: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: fsync steps: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: close steps: %w", err)
	}
	if created {
		// The new file's directory entry is durable only once the
		// directory is: without this a crash could lose the whole log.
		if err := j.syncDir(); err != nil {
			return err
		}
	}
	p.Steps = append(p.Steps, steps...)
	return nil
}

// repairTail makes the steps log end with a newline before an append. A
// crash can leave the last line without one: a complete step that lost only
// its newline (Load reports it) gets the newline; a torn fragment (Load
// ignores it) is cut off. Appending after either as is would glue the new
// step onto it, losing that step and leaving corruption in the middle of the
// log at the next append.
func repairTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	// Rare (only after a crash): read the whole log to find the last line.
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return err
	}
	start := strings.LastIndexByte(string(b), '\n') + 1
	var sl stepLine
	if json.Unmarshal(b[start:], &sl) == nil {
		_, err = f.Write([]byte{'\n'})
	} else {
		err = f.Truncate(int64(start))
	}
	if err != nil {
		return err
	}
	return f.Sync()
}

// Save writes a pair's record durably: temp file, fsync, rename, fsync dir.
func (j *Journal) Save(r *Record) error {
	r.Version = Version
	if n := len(r.History); n > HistoryLimit {
		r.History = r.History[n-HistoryLimit:]
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("journal: encode %s: %w", r.Pair, err)
	}
	final := j.path(r.Pair)
	tmp, err := os.CreateTemp(j.dir, "."+r.Pair+".*.tmp")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("journal: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("journal: fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("journal: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("journal: rename to %s: %w", final, err)
	}
	return j.syncDir()
}

// fsyncDir makes a directory's entries durable (tests count its calls).
var fsyncDir = func(d *os.File) error { return d.Sync() }

func (j *Journal) syncDir() error {
	d, err := os.Open(j.dir)
	if err != nil {
		return fmt.Errorf("journal: open dir: %w", err)
	}
	defer d.Close()
	if err := fsyncDir(d); err != nil {
		return fmt.Errorf("journal: fsync dir %s: %w", j.dir, err)
	}
	return nil
}

// Read loads a pair's record from dir without taking the lock (for
// read-only tools such as `drwatch history`; a daemon may be writing, and
// every save is an atomic rename, so a read sees one whole version).
func Read(dir, pair string) (*Record, error) {
	j := &Journal{dir: dir}
	return j.Load(pair)
}
