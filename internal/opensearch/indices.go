package opensearch

import (
	"context"
	"maps"
	"slices"
)

// IndexNames lists the indices matching targets (names or patterns; open
// and closed, not hidden) with GET {targets}/_settings/index.uuid, one
// request per chunk of targets: the smallest answer that names every
// index. A name that does not exist is left out, and a pattern that
// matches nothing adds nothing. It reads; it never writes.
func (c *Client) IndexNames(ctx context.Context, targets []string) ([]string, error) {
	settings, err := c.settings(ctx, "list indices", targets, "/_settings/index.uuid")
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(settings)), nil
}
