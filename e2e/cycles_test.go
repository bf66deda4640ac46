//go:build e2e

package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// waitCycles waits until drwatch has finished n more probe cycles of pair
// (its cycle-duration histogram counts them). A test that proves that
// something did not happen waits for cycles, not for a sleep: on a slow
// machine a sleep can pass with no decision taken at all.
func (d *daemon) waitCycles(t *testing.T, pair string, n int) {
	t.Helper()
	series := fmt.Sprintf(`drwatch_probe_duration_seconds_count{pair=%q,target="cycle"}`, pair)
	count := func() int {
		v, ok := d.metric(t, series)
		if !ok {
			t.Fatalf("drwatch exposes no %s", series)
		}
		c, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s = %q: not a count", series, v)
		}
		return c
	}
	want := count() + n
	// A cycle takes at most probe_timeout after its tick (400ms in the e2e
	// configs): 4s a cycle is slack for a loaded machine.
	eventually(t, time.Duration(n)*4*time.Second+10*time.Second, fmt.Sprintf("%d more probe cycles of %s", n, pair), func() bool {
		return count() >= want
	})
}
