package probe_test

import (
	"context"
	"fmt"
	"strings"
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
	// Fixed bodies: the benchmark measures drwatch, not the fake's rendering.
	l.leader.Set("GET /_all/_stats/docs", 200, l.leader.SeqNosJSON("_all"))
	l.follower.Set("GET /*/_stats/docs", 200, l.follower.SeqNosJSON("*"))
	b.ReportAllocs()
	for b.Loop() {
		o := l.prober.Cycle(context.Background())
		if r := o.Follower.Replication; len(r.Indices) != 5000 || r.Failure != nil || !r.LagComplete {
			b.Fatalf("bad cycle: %+v %+v", r.Failure, r.CheckpointsFailure)
		}
	}
}

// BenchmarkParseShardSeqNos5000 parses one _stats?level=shards answer
// (the real capture's shape) for 5,000 one-shard indices.
func BenchmarkParseShardSeqNos5000(b *testing.B) {
	var body strings.Builder
	body.WriteString(`{"indices":{`)
	for i := range 5000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"idx-%05d":{"shards":{"0":[{"routing":{"state":"STARTED","primary":true},"seq_no":{"max_seq_no":%d,"local_checkpoint":%d,"global_checkpoint":%d}}]}}`, i, 1000+i, 1000+i, 1000+i)
	}
	body.WriteString(`}}`)
	raw := []byte(body.String())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := opensearch.ParseShardSeqNos(raw)
		if err != nil || len(got) != 5000 {
			b.Fatal(err)
		}
	}
}
