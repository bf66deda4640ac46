package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/policy"
)

// DefaultMaxBytes is the size at which a pair's record is rotated: the
// record takes at most about twice this per pair (the file and its .1).
const DefaultMaxBytes = 16 << 20

// Path is the file a pair's record is written to in dir; the older file
// is Path + ".1".
func Path(dir, pair string) string { return filepath.Join(dir, pair+".inputs.jsonl") }

// Options configure a Recorder.
type Options struct {
	// MaxBytes rotates the file once it has reached this size (default
	// DefaultMaxBytes).
	MaxBytes int64
	Log      *zap.Logger        // default: none
	Errors   prometheus.Counter // counts failed writes (may be nil)
}

// Recorder appends a pair's inputs to its record. Its methods are safe
// for concurrent use, and a nil *Recorder records nothing. It never
// returns an error: a write that fails is counted and logged (once, until
// a write succeeds again) and the record resumes with a start line.
type Recorder struct {
	path   string
	max    int64
	log    *zap.Logger
	errors prometheus.Counter

	mu        sync.Mutex
	f         *os.File
	size      int64
	needStart string // non-empty: the next line is preceded by a start line, made for this reason
	prev      []byte // the last observation written, without its timing
	failing   bool
	buf       []byte
}

// New is the recorder of pair in dir (the state_dir). The file is opened
// at the first Add.
func New(dir, pair string, o Options) *Recorder {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Recorder{path: Path(dir, pair), max: o.MaxBytes, log: o.Log, errors: o.Errors, needStart: WhyOpened}
}

// Add appends in. st and pol are the pair's state before the input and
// its policy: a start line is made of them when the file is new, was
// rotated, or lost lines.
func (r *Recorder) Add(in Input, st policy.State, pol *config.Policy) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.add(in, st, pol); err != nil {
		r.fail(err)
		return
	}
	if r.failing {
		r.failing = false
		r.log.Info("record writable again: it resumes with a start line", zap.String("file", r.path))
	}
}

func (r *Recorder) add(in Input, st policy.State, pol *config.Policy) error {
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.size >= r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	r.buf = r.buf[:0]
	var err error
	if in.Kind != KindStart && r.needStart != "" {
		r.prev = nil
		if r.buf, err = r.encode(r.buf, Started(in.At, st, pol, false, r.needStart)); err != nil {
			return err
		}
	}
	if in.Kind == KindStart {
		r.prev = nil
	}
	if r.buf, err = r.encode(r.buf, in); err != nil {
		return err
	}
	n, err := r.f.Write(r.buf)
	r.size += int64(n)
	if err != nil {
		return fmt.Errorf("record %s: %w", r.path, err)
	}
	r.needStart = ""
	return nil
}

// encode appends in as one line. An observation's timing goes apart, and
// the rest is left out when it is the same as the previous one's.
func (r *Recorder) encode(b []byte, in Input) ([]byte, error) {
	var core []byte
	if in.Kind == KindObservation && in.Obs != nil {
		t, rest := timingOf(*in.Obs)
		var err error
		if core, err = json.Marshal(rest); err != nil {
			return b, fmt.Errorf("record: encode observation: %w", err)
		}
		in.Timing, in.Obs = &t, nil
		if bytes.Equal(core, r.prev) {
			core = nil // the same as the previous line's
		} else {
			r.prev = append(r.prev[:0], core...)
		}
	}
	line, err := json.Marshal(in)
	if err != nil {
		return b, fmt.Errorf("record: encode %s: %w", in.Kind, err)
	}
	if core != nil {
		b = append(b, line[:len(line)-1]...)
		b = append(b, `,"obs":`...)
		b = append(b, core...)
		b = append(b, '}')
	} else {
		b = append(b, line...)
	}
	return append(b, '\n'), nil
}

// open opens the file for appending; a torn last line (a crash, or a
// failed write, in the middle of a line) is cut off first.
func (r *Recorder) open() error {
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304 -- state_dir and a validated pair name
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	size, err := cutTornTail(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("record %s: %w", r.path, err)
	}
	r.f, r.size, r.prev = f, size, nil
	if r.needStart == "" {
		r.needStart = WhyOpened
	}
	return nil
}

// cutTornTail makes the file end with a whole line, and returns its size.
func cutTornTail(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	// Rare: only after a crash or a failed write. Read back to the last
	// newline, in blocks from the end.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			cut := start + int64(i) + 1
			return cut, f.Truncate(cut)
		}
		end = start
	}
	return 0, f.Truncate(0)
}

// rotate moves the file to its .1 (replacing the older one) and starts a
// new one.
func (r *Recorder) rotate() error {
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("record %s: %w", r.path, err)
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("record: rotate: %w", err)
	}
	r.needStart = WhyRotated
	return r.open()
}

// fail counts a failed write and logs the first of a run; the record
// resumes with a start line once a write succeeds.
func (r *Recorder) fail(err error) {
	if r.errors != nil {
		r.errors.Inc()
	}
	if !r.failing {
		r.failing = true
		r.log.Error("record write failed: the decision core's inputs are not recorded until a write succeeds (decisions are not affected)", zap.String("file", r.path), zap.Error(err))
	}
	r.needStart = WhyResumed
	r.prev = nil
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil // reopened by the next Add, its torn tail cut
	}
}

// Close closes the file; a later Add opens it again.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	r.needStart = WhyOpened
	return err
}
