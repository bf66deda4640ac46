package opensearch

import (
	"context"
	"net/http"
	"slices"
)

// IndexNames lists the indices matching targets (names or patterns; open
// and closed, not hidden) with GET {targets}/_settings/index.uuid, one
// request per chunk of targets: the smallest answer that names every
// index. A name that does not exist is left out, and a pattern that
// matches nothing adds nothing. It reads; it never writes.
func (c *Client) IndexNames(ctx context.Context, targets []string) ([]string, error) {
	const op = "list indices"
	var names []string
	for _, chunk := range chunkNames(targets) {
		q := targetQuery("open,closed")
		q.Set("flat_settings", "true")
		body, err := c.do(ctx, op, http.MethodGet, request{path: "/" + chunk + "/_settings/index.uuid", query: q})
		if err != nil {
			return nil, err
		}
		var raw map[string]struct {
			Settings map[string]any `json:"settings"`
		}
		if err := decode(op, body, &raw); err != nil {
			return nil, err
		}
		for idx := range raw {
			names = append(names, idx)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
