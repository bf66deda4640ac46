//go:build crashhook

package ccr

import (
	"fmt"
	"os"
	"strconv"

	"github.com/drwatch/drwatch/internal/promote"
)

// In binaries built with -tags crashhook (the end-to-end tests' only),
// DRWATCH_CRASH_AFTER_STOPS=N kills the process right after the Nth
// journaled stop, to prove that a promotion resumes from the journal.
//
// DRWATCH_CRASH_AFTER_STEP=NAME:STATUS (plan:done, fence:done,
// delete_autofollow:done, stop:done, verify:done, ...) kills it right
// after the first step of that name and outcome is journaled.
func init() {
	if want := os.Getenv("DRWATCH_CRASH_AFTER_STEP"); want != "" {
		crashAfterStep = func(s promote.Step) {
			if s.Name+":"+s.Status == want {
				fmt.Fprintf(os.Stderr, "crashhook: exiting after step %s of %q\n", want, s.Target)
				os.Exit(99)
			}
		}
	}
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
