package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/policy"
)

// ErrNoRecord means a pair has no record in the directory.
var ErrNoRecord = errors.New("no record")

// CorruptError is a line of the record that cannot be read: Read stops
// there (a replay that skipped an input would not be exact).
type CorruptError struct {
	File string
	Line int
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("record %s line %d is corrupt (%v): the replay stops at it; remove that line and the ones up to the next start line (\"kind\":\"start\") to replay past it", e.File, e.Line, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Read reads a pair's record from dir: the older file, then the current
// one, every observation whole again. A last line without its newline (a
// write in progress, or a crash) is left out and reported in warnings;
// any other line that cannot be read stops the reading with a
// *CorruptError. Lines before the first start line (only a file cut by
// hand has any) cannot be replayed: they are left out, with a warning.
func Read(dir, pair string) (inputs []Input, warnings []string, err error) {
	cur := Path(dir, pair)
	found := false
	for _, file := range []string{cur + ".1", cur} {
		b, err := os.ReadFile(file) // #nosec G304 -- state_dir and a pair name from the config
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inputs, warnings, fmt.Errorf("record %s: %w", file, err)
		}
		found = true
		var w []string
		inputs, w, err = parse(inputs, file, b)
		warnings = append(warnings, w...)
		if err != nil {
			return inputs, warnings, err
		}
	}
	if !found {
		return nil, nil, fmt.Errorf("%w for pair %s in %s (looked for %s and %s.1): drwatch run writes it there", ErrNoRecord, pair, dir, cur, cur)
	}
	return inputs, warnings, nil
}

// parse appends the inputs of one file's content b.
func parse(inputs []Input, file string, b []byte) ([]Input, []string, error) {
	var warnings []string
	var prev *observe.Observation // the last whole observation, without its timing
	started := len(inputs) > 0
	skipped := 0
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			warnings = append(warnings, fmt.Sprintf("record %s line %d has no end (a write in progress, or a crash): left out", file, n))
			break
		}
		line := b[:i]
		b = b[i+1:]
		var in Input
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return inputs, warnings, &CorruptError{File: file, Line: n, Err: err}
		}
		if dec.More() {
			return inputs, warnings, &CorruptError{File: file, Line: n, Err: errors.New("data after the line's object")}
		}
		if err := in.check(); err != nil {
			return inputs, warnings, &CorruptError{File: file, Line: n, Err: err}
		}
		in.Source = fmt.Sprintf("%s:%d", file, n)
		switch in.Kind {
		case KindStart:
			started, prev = true, nil
			if in.Start != nil {
				in.Start.State = policy.Upgrade(in.Start.State) // written by an earlier version
			}
		case KindObservation:
			if in.Obs != nil {
				o := *in.Obs
				prev = &o
			} else if prev == nil {
				if started {
					return inputs, warnings, &CorruptError{File: file, Line: n, Err: errors.New("an observation the same as the previous one, with no previous one in the file")}
				}
			} else {
				o := *prev
				in.Obs = &o
			}
			if in.Obs != nil {
				o := in.Timing.apply(*in.Obs)
				in.Obs = &o
			}
		}
		if !started {
			skipped++
			continue
		}
		inputs = append(inputs, in)
	}
	if skipped > 0 {
		warnings = append(warnings, fmt.Sprintf("record %s: the first %d lines come before any start line (no state to replay them from): left out", file, skipped))
	}
	return inputs, warnings, nil
}
