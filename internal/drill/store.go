package drill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// KeepReports bounds the reports kept per drill (the oldest go first).
const KeepReports = 50

// Store keeps drill reports in <state_dir>/drills/<drill>/<id>.json.
type Store struct{ Dir string }

// NewStore is the report store of a state_dir.
func NewStore(stateDir string) *Store { return &Store{Dir: filepath.Join(stateDir, "drills")} }

// Save writes a report atomically (temp file, fsync, rename) and prunes
// the drill's oldest reports beyond KeepReports - never one a drill may
// still need: a failover drill's that is running or stopped half-way (a
// later run finishes its restore from it).
func (s *Store) Save(r *Report) error {
	dir := filepath.Join(s.Dir, r.Drill)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("drill report: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("drill report: %w", err)
	}
	path := filepath.Join(dir, r.ID+".json")
	tmp, err := os.CreateTemp(dir, ".report-*")
	if err != nil {
		return fmt.Errorf("drill report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("drill report %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("drill report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("drill report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("drill report %s: %w", path, err)
	}
	ids, err := s.IDs(r.Drill)
	if err == nil && len(ids) > KeepReports {
		for _, id := range ids[:len(ids)-KeepReports] {
			if old, err := s.Load(r.Drill, id); err == nil && old.Failover != nil && (old.Result == ResultRunning || len(old.Failover.Finish) > 0) {
				continue
			}
			_ = os.Remove(filepath.Join(dir, id+".json"))
		}
	}
	return nil
}

// IDs lists a drill's report ids, oldest first.
func (s *Store) IDs(drill string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, drill))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			ids = append(ids, strings.TrimSuffix(n, ".json"))
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Drills lists the drills that have reports.
func (s *Store) Drills() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// Load reads one report ("" id: the latest). A report that cannot be
// read is an error naming its file.
func (s *Store) Load(drill, id string) (*Report, error) {
	if id == "" {
		ids, err := s.IDs(drill)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("drill %s has no reports in %s", drill, s.Dir)
		}
		id = ids[len(ids)-1]
	}
	if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("bad report id %q", id)
	}
	path := filepath.Join(s.Dir, drill, id+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("drill report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("drill report %s: not a report: %w", path, err)
	}
	return &r, nil
}

// LastSuccess is the finish time of the drill's latest passed report
// (zero: none), for drwatch_drill_last_success_timestamp_seconds after a
// restart.
func (s *Store) LastSuccess(drill string) (*Report, error) {
	ids, err := s.IDs(drill)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		r, err := s.Load(drill, ids[i])
		if err != nil {
			continue // one unreadable report does not hide the others
		}
		if r.Result == ResultPassed {
			return r, nil
		}
	}
	return nil, nil
}
