package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Instance is this state_dir's own random name, made the first time it is
// asked for and kept in the file "instance". With ha, a daemon that takes
// a pair's lease over adopts the state the last holder published unless
// this journal published it (it is as new): the instance, not the
// daemon's configured identity, says so - two daemons given the same
// identity, or a state_dir wiped and started afresh, still adopt.
func (j *Journal) Instance() (string, error) {
	p := filepath.Join(j.dir, "instance")
	b, err := os.ReadFile(p) // #nosec G304 -- state_dir from config
	if err == nil && len(strings.TrimSpace(string(b))) == 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("journal: %w", err)
	}
	r := make([]byte, 16)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	id := hex.EncodeToString(r)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	return id, j.syncDir()
}
