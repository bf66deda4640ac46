//go:build crashhook

package steps

import (
	"fmt"
	"os"

	"github.com/drwatch/drwatch/internal/promote"
)

// In binaries built with -tags crashhook (the end-to-end tests' only),
// DRWATCH_CRASH_AFTER_STEP=NAME:STATUS (plan:done, fence:done,
// delete_autofollow:done, stop:done, delete_integration:started,
// verify:done, ...) kills the process right after the first step of that
// name and outcome is journaled, whichever executor runs, to prove that a
// promotion resumes from the journal.
func init() {
	want := os.Getenv("DRWATCH_CRASH_AFTER_STEP")
	if want == "" {
		return
	}
	AfterRecord = func(s promote.Step) {
		if s.Name.String()+":"+s.Status.String() == want {
			fmt.Fprintf(os.Stderr, "crashhook: exiting after step %s of %q\n", want, s.Target)
			os.Exit(99)
		}
	}
}
