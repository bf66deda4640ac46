package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/report"
)

// The status text says who acts for the pair, and where a standby's
// decision comes from.
func TestHAInStatusText(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ha   report.HA
		want []string
	}{
		{report.HA{Role: "holder", Identity: "dr-a", Holder: "dr-a", Term: 3, ExpiresInSeconds: 11},
			[]string{"  ha         HOLDER  dr-a holds the lease (term 3, 11s left): it acts for the pair\n"}},
		{report.HA{Role: "standby", Identity: "dr-b", Holder: "dr-a", PublishedBy: "dr-a", PublishedTerm: 3, PublishedAt: at},
			[]string{"  ha         STANDBY dr-b: dr-a holds the lease and acts for the pair\n",
				"             state below as dr-a published it (term 3, 2026-03-01T12:00:00Z)\n"}},
		{report.HA{Role: "standby", Identity: "dr-b", Error: "read the lease of orders in .drwatch-ha: connection refused"},
			[]string{"  ha         STANDBY dr-b: no daemon is known to hold the lease\n",
				"             lease: read the lease of orders in .drwatch-ha: connection refused\n"}},
		{report.HA{Role: "observer", Holder: "dr-a", Term: 3}, []string{"  ha         dr-a holds the lease (term 3) and acts for the pair\n"}},
	} {
		h := c.ha
		st := report.Status{Pairs: []report.PairStatus{{Name: "orders", Mode: "auto", Problems: []string{},
			Observation: &observe.Observation{Time: at, Leader: observe.Leader{Reachable: true},
				Follower: observe.Follower{Reachable: true, Remote: observe.Remote{Known: true, Connected: true}}}, HA: &h}}}
		var b bytes.Buffer
		if err := report.Text(&b, st); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%+v: text lacks %q:\n%s", c.ha, w, b.String())
			}
		}
	}
}
