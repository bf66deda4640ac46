package probe_test

import (
	"context"
	"testing"

	"github.com/drwatch/drwatch/internal/opensearch"
	"github.com/drwatch/drwatch/internal/testutil/fakeos"
)

// BenchmarkParseFollowerStats5000 parses a follower_stats body for 5,000
// indices (synthetic, in the documented shape).
func BenchmarkParseFollowerStats5000(b *testing.B) {
	body := []byte(fakeos.SyntheticFollowerStats(5000, 3))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		fs, err := opensearch.ParseFollowerStats(body)
		if err != nil || len(fs.IndexStats) != 5000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCycle5000 runs whole probe cycles (five HTTP calls to loopback
// test servers, parsing, joining) for a pair with 5,000 follower indices.
func BenchmarkCycle5000(b *testing.B) {
	l := newLab(b)
	l.follower.Set(fakeos.RouteFollowerStats, 200, fakeos.SyntheticFollowerStats(5000, 3))
	l.follower.Set(fakeos.RouteSettingsAll, 200, fakeos.SyntheticSettings(5000))
	b.ReportAllocs()
	for b.Loop() {
		o := l.prober.Cycle(context.Background())
		if len(o.Follower.Replication.Indices) != 5000 || o.Follower.Replication.Failure != nil {
			b.Fatalf("bad cycle: %+v", o.Follower.Replication.Failure)
		}
	}
}
