//go:build crashhook

package drill

import (
	"fmt"
	"os"
	"time"
)

// In binaries built with -tags crashhook (the end-to-end tests' only),
// DRWATCH_DRILL_HOLD_AFTER_PROMOTE=FILE holds a failover drill between
// its promotion and its restore until FILE exists (at most 5 minutes), so
// that a test can look at the promoted follower from outside.
func init() {
	path := os.Getenv("DRWATCH_DRILL_HOLD_AFTER_PROMOTE")
	if path == "" {
		return
	}
	holdAfterPromote = func() {
		fmt.Fprintf(os.Stderr, "holdhook: the drill waits for %s\n", path)
		for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := os.Stat(path); err == nil {
				return
			}
		}
	}
}
