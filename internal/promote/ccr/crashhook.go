//go:build crashhook

package ccr

import (
	"fmt"
	"os"
	"strconv"
)

// In binaries built with -tags crashhook (the end-to-end tests' only),
// DRWATCH_CRASH_AFTER_STOPS=N kills the process right after the Nth
// journaled stop, to prove that a promotion resumes from the journal.
// DRWATCH_CRASH_AFTER_STEP is promote/steps' (any executor's steps).
func init() {
	n, err := strconv.Atoi(os.Getenv("DRWATCH_CRASH_AFTER_STOPS"))
	if err != nil || n <= 0 {
		return
	}
	crashAfterStops = func(done int) {
		if done >= n {
			fmt.Fprintf(os.Stderr, "crashhook: exiting after %d stops\n", done)
			os.Exit(99)
		}
	}
}
