package opensearch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/drwatch/drwatch/internal/observe"
)

// WitnessIndex is the leader index name the active witness searches
// through the follower. It need not exist (the search ignores missing
// indices), so the search reads no data: the leader only resolves the
// name. A least-privilege user needs indices:data/read/search on this
// one name on the leader (docs/replication.md).
const WitnessIndex = "drwatch-witness"

// WitnessOpaqueID is the X-Opaque-Id of the witness's request: the task
// it makes on the follower carries it.
const WitnessOpaqueID = "drwatch-witness"

// Link is what the follower's request to its leader came to.
type Link string

// Link outcomes.
const (
	// LinkReached: the leader answered the follower now (a cross-cluster
	// search that the remote cluster served).
	LinkReached Link = "reached"
	// LinkFailed: the follower answered that its request to the leader
	// failed at the transport layer (refused, disconnected, timed out).
	LinkFailed Link = "failed"
	// LinkSkipped: the follower skipped the leader (its alias has
	// skip_unavailable: true). The follower does so on any failure there
	// - a refused permission as much as a dead leader - and says not
	// which: no verdict on the link.
	LinkSkipped Link = "skipped"
)

// WitnessAnswer is the follower's answer to a cross-cluster request.
type WitnessAnswer struct {
	Link Link
	// Type is the OpenSearch error type of a failed request (e.g.
	// connect_transport_exception); empty for a reached leader.
	Type string
}

// transportFailures are the error types with which a follower reports
// that its request to a remote cluster did not get through: the remote
// did not answer, it was refused, or the connection to it is gone. Any
// other error is the follower's own (a permission, a setting) and proves
// nothing about the leader.
var transportFailures = []string{
	"connect_transport_exception",
	"node_disconnected_exception",
	"node_not_connected_exception",
	"node_closed_exception",
	"receive_timeout_transport_exception",
	"send_request_transport_exception",
	"transport_exception",
	"no_node_available_exception",
	"connect_exception",
}

// WitnessTasks counts the follower's tasks that are the witness's search
// (GET _tasks, the X-Opaque-Id WitnessOpaqueID): a pending witness request
// that is a task on the follower is the follower waiting on its leader;
// one that is not never reached the follower (it is stuck between drwatch
// and the follower).
func (c *Client) WitnessTasks(ctx context.Context) (int, error) {
	const op = "follower tasks"
	q := url.Values{"actions": {"indices:data/read/search*"}, "detailed": {"true"}}
	body, err := c.do(ctx, op, http.MethodGet, request{path: "/_tasks", query: q})
	if err != nil {
		return 0, err
	}
	var tasks struct {
		Nodes map[string]struct {
			Tasks map[string]struct {
				Headers map[string]string `json:"headers"`
			} `json:"tasks"`
		} `json:"nodes"`
	}
	if err := decode(op, body, &tasks); err != nil {
		return 0, err
	}
	n := 0
	for _, node := range tasks.Nodes {
		for _, t := range node.Tasks {
			if t.Headers["X-Opaque-Id"] == WitnessOpaqueID {
				n++
			}
		}
	}
	return n, nil
}

// CrossCluster asks the follower to search <alias>:WitnessIndex: a request
// that crosses the follower -> leader link now. It is one attempt, bounded
// only by ctx: the caller decides how long it may stay in flight (a search
// to a hung leader stays on the follower as a task whatever the client
// does, so the caller keeps at most one pending).
//
// The answer is LinkReached when the leader served it (_clusters reports a
// successful remote), LinkFailed when the follower says its request to the
// leader failed at the transport layer (HTTP 5xx with a transport error
// type), LinkSkipped for a remote skipped under skip_unavailable (why is
// not said). Anything else is an
// *Error: the follower's own failure, which says nothing about the leader.
func (c *Client) CrossCluster(ctx context.Context, alias string) (WitnessAnswer, error) {
	const op = "cross-cluster witness search"
	q := url.Values{
		"size":               {"0"},
		"ignore_unavailable": {"true"},
		"allow_no_indices":   {"true"},
		"track_total_hits":   {"false"},
	}
	path := "/" + url.PathEscape(alias+":"+WitnessIndex) + "/_search"
	// The task it makes on the follower carries this id (GET _tasks
	// shows it under headers): an operator, or a test, can tell
	// drwatch's witness apart from other searches.
	hdr := http.Header{"X-Opaque-Id": {WitnessOpaqueID}}
	status, body, err := c.doAllow(ctx, op, http.MethodGet, request{path: path, query: q, header: hdr}, anyStatus)
	if err != nil {
		return WitnessAnswer{}, err // the follower did not answer
	}
	if status < 200 || status > 299 {
		e := c.explain(classifyStatus(op, status, body))
		if status >= 500 {
			if t := transportFailure(body, e); t != "" {
				return WitnessAnswer{Link: LinkFailed, Type: t}, nil
			}
		}
		return WitnessAnswer{}, e
	}
	var ans struct {
		Clusters *struct {
			Total      int `json:"total"`
			Successful int `json:"successful"`
			Skipped    int `json:"skipped"`
		} `json:"_clusters"`
	}
	if err := decode(op, body, &ans); err != nil {
		return WitnessAnswer{}, err
	}
	switch cl := ans.Clusters; {
	case cl == nil || cl.Total == 0:
		// A local search: the follower does not know the alias as a
		// remote cluster, so nothing crossed the link.
		return WitnessAnswer{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "the follower searched no remote cluster: is " + quote(alias) + " a remote cluster alias on the follower?"}
	case cl.Successful > 0:
		return WitnessAnswer{Link: LinkReached}, nil
	case cl.Skipped > 0:
		return WitnessAnswer{Link: LinkSkipped}, nil
	}
	return WitnessAnswer{}, &Error{Op: op, Class: observe.ClassMalformed, Detail: "_clusters reports neither a successful nor a skipped remote cluster"}
}

// transportFailure returns the transport error type of a failed
// cross-cluster request ("" when it is not one): the top-level type or
// any root cause's.
func transportFailure(body []byte, e *Error) string {
	if slices.Contains(transportFailures, e.Type) {
		return e.Type
	}
	var eb struct {
		Error struct {
			RootCause []struct {
				Type string `json:"type"`
			} `json:"root_cause"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) != nil {
		return ""
	}
	for _, rc := range eb.Error.RootCause {
		if slices.Contains(transportFailures, rc.Type) {
			return rc.Type
		}
	}
	return ""
}
