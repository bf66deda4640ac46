package cli

import "time"

// SetFollowTuning shortens the waits of `drwatch aiven follow` for a test:
// how often the new integration is read, and the Aiven client's first
// retry wait. It returns the function that restores them.
func SetFollowTuning(poll, retryWait time.Duration) (restore func()) {
	old := followTuning
	followTuning.Poll, followTuning.RetryWaitMin = poll, retryWait
	return func() { followTuning = old }
}
