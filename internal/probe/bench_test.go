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

// BenchmarkCycle5000 runs whole probe cycles (seven HTTP calls to
// loopback test servers, parsing, and the shard-by-shard join of both
// clusters' sequence numbers) for a pair with 5,000 follower indices.
func BenchmarkCycle5000(b *testing.B) {
	l := newLab(b)
	fakeos.Synthetic(l.leader, l.follower, 5000, 3)
	b.ReportAllocs()
	for b.Loop() {
		o := l.prober.Cycle(context.Background())
		if r := o.Follower.Replication; len(r.Indices) != 5000 || r.Failure != nil || !r.LagComplete {
			b.Fatalf("bad cycle: %+v %+v", r.Failure, r.CheckpointsFailure)
		}
	}
}

// BenchmarkParseShardSeqNos5000 parses one _stats?level=shards answer
// for 5,000 one-shard indices.
func BenchmarkParseShardSeqNos5000(b *testing.B) {
	l := newLab(b)
	fakeos.Synthetic(l.leader, l.follower, 5000, 3)
	c, err := opensearch.New(l.leader.Endpoint(), opensearch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.ShardSeqNos(context.Background(), []string{"_all"})
		if err != nil || len(got) != 5000 {
			b.Fatal(err)
		}
	}
}
