package cli

import (
	"io"
	"time"
)

// SetFollowTuning shortens the waits of `drwatch aiven follow` for a test:
// how often the new integration is read, and the Aiven client's first
// retry wait. It returns the function that restores them.
func SetFollowTuning(poll, retryWait time.Duration) (restore func()) {
	old := followTuning
	followTuning.Poll, followTuning.RetryWaitMin = poll, retryWait
	return func() { followTuning = old }
}

// SetTerminal makes every reader count as a terminal (or none) for a
// test; it returns the function that restores the check.
func SetTerminal(yes bool) (restore func()) {
	old := isTerminal
	isTerminal = func(io.Reader) bool { return yes }
	return func() { isTerminal = old }
}
