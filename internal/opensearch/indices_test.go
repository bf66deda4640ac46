package opensearch_test

import (
	"context"
	"slices"
	"testing"

	"github.com/drwatch/drwatch/internal/observe"
	"github.com/drwatch/drwatch/internal/opensearch"
)

// The answers are in the shape of GET {targets}/_settings as the lab
// captured it (fakeos testdata/lab/follower_settings.json).
func TestIndexNames(t *testing.T) {
	cl, c := labClient(t)
	ctx := context.Background()
	c.Set("GET /orders-*,logs-1/_settings/index.uuid", 200, `{"orders-2":{"settings":{"index.uuid":"b"}},"orders-1":{"settings":{"index.uuid":"a"}},"logs-1":{"settings":{"index.uuid":"c"}}}`)
	names, err := cl.IndexNames(ctx, []string{"orders-*", "logs-1"})
	if err != nil || !slices.Equal(names, []string{"logs-1", "orders-1", "orders-2"}) {
		t.Fatalf("names = %v, %v", names, err)
	}
	c.Set("GET /nothing-*/_settings/index.uuid", 200, `{}`)
	if names, err := cl.IndexNames(ctx, []string{"nothing-*"}); err != nil || len(names) != 0 {
		t.Fatalf("no match: %v, %v", names, err)
	}
	c.Set("GET /x/_settings/index.uuid", 200, `["x"]`)
	if _, err := cl.IndexNames(ctx, []string{"x"}); opensearch.ClassOf(err) != observe.ClassMalformed {
		t.Fatalf("not an object: %v", err)
	}
}
