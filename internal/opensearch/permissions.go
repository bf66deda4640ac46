package opensearch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/drwatch/drwatch/internal/config"
	"github.com/drwatch/drwatch/internal/observe"
)

// The permissions drwatch needs under the security plugin, one line per
// action and cluster: what it does with it, the role of deploy/security
// that grants it, and how the readiness drill tries it without changing
// anything (a request on a name that does not exist, which the security
// plugin checks before the action runs: a refusal is HTTP 403, an allowed
// request fails after the check, 4xx or 5xx, or does nothing).
// deploy/security/{leader,follower}.yml and docs/security.md are held to
// this table by tests.

// Side is the cluster a permission is needed on.
type Side string

// The two clusters of a pair.
const (
	SideLeader   Side = "leader"
	SideFollower Side = "follower"
)

// Target is what a permission is granted on.
type Target string

// The targets of the permissions.
const (
	OnCluster Target = "cluster"    // a cluster permission
	OnScope   Target = "scope"      // the pair's indices ("*", or narrowed to the scope)
	OnAny     Target = "any"        // an index action that takes no index: granted on "*"
	OnWitness Target = "witness"    // the name drwatch-witness (the witness's search)
	OnHA      Target = "ha_index"   // the HA lease index (.drwatch-ha*)
	OnWrite   Target = "real_write" // checked only by a real write (a shard-level action)
)

// Permission is one action drwatch needs on one cluster.
type Permission struct {
	Side   Side
	Role   string // drwatch_watch, drwatch_promote, drwatch_ha, drwatch_drill
	Action string // as the role file grants it
	On     Target
	For    string // what drwatch does with it
}

// Permissions is every permission drwatch needs, by side and role.
var Permissions = []Permission{
	{SideLeader, "drwatch_watch", "cluster:monitor/health", OnCluster, "GET _cluster/health: is the leader up"},
	{SideLeader, "drwatch_watch", "cluster:monitor/state", OnCluster, "GET _cluster/state/blocks: the leader's write blocks"},
	{SideLeader, "drwatch_watch", "indices:monitor/stats", OnScope, "GET <indices>/_stats: the leader's own checkpoints (lag, RPO)"},
	{SideLeader, "drwatch_watch", "indices:monitor/settings/get", OnScope, "GET <indices>/_settings: retention lease periods"},
	{SideLeader, "drwatch_watch", "indices:data/read/search", OnWitness, "the witness's search (size 0, no index), which the follower sends across the link: the leader judges it by the names of drwatch's roles on the follower"},
	{SideLeader, "drwatch_promote", "cluster:monitor/state", OnCluster, "verify the fence: the leader's write blocks (with drwatch_watch already)"},
	{SideLeader, "drwatch_promote", "indices:admin/block/add*", OnScope, "PUT <indices>/_block/write: fence the old leader (the [s] sub-action is checked on each shard)"},
	{SideLeader, "drwatch_drill", "indices:admin/mappings/get", OnScope, "readiness: compare the leader's mappings"},
	{SideLeader, "drwatch_drill", "indices:data/read/search", OnScope, "readiness and failover drills: count documents"},
	{SideLeader, "drwatch_drill", "indices:admin/refresh*", OnScope, "failover drill: refresh before counting"},
	{SideLeader, "drwatch_drill", "indices:admin/settings/update", OnScope, "failover drill: lift the drill's write block"},

	{SideFollower, "drwatch_watch", "cluster:monitor/health", OnCluster, "GET _cluster/health"},
	{SideFollower, "drwatch_watch", "cluster:monitor/state", OnCluster, "GET _cluster/state, _cluster/settings: index states, the remote's settings"},
	{SideFollower, "drwatch_watch", "cluster:monitor/remote/info", OnCluster, "GET _remote/info: the follower's view of the leader"},
	{SideFollower, "drwatch_watch", "cluster:monitor/tasks/lists", OnCluster, "GET _tasks: is a pending witness a task on the follower"},
	{SideFollower, "drwatch_watch", "indices:admin/plugins/replication/follower/stats", OnAny, "GET _plugins/_replication/follower_stats"},
	{SideFollower, "drwatch_watch", "indices:admin/plugins/replication/autofollow/stats", OnAny, "GET _plugins/_replication/autofollow_stats: the autofollow rules"},
	{SideFollower, "drwatch_watch", "indices:admin/plugins/replication/index/status_check", OnScope, "GET _plugins/_replication/<index>/_status"},
	{SideFollower, "drwatch_watch", "indices:monitor/stats", OnScope, "GET <indices>/_stats: the follower's checkpoints"},
	{SideFollower, "drwatch_watch", "indices:monitor/settings/get", OnScope, "GET <indices>/_settings: which indices follow which"},
	{SideFollower, "drwatch_promote", "cluster:admin/plugins/replication/autofollow/update", OnCluster, "DELETE _plugins/_replication/_autofollow: remove the autofollow rules"},
	{SideFollower, "drwatch_promote", "cluster:admin/settings/update", OnCluster, "PUT _cluster/settings: detach a hung leader (its remote alias to a refused address)"},
	{SideFollower, "drwatch_promote", "indices:admin/plugins/replication/index/stop", OnScope, "POST _plugins/_replication/<index>/_stop: make each index writable"},
	{SideFollower, "drwatch_promote", "indices:admin/open", OnScope, "POST <index>/_open: reopen an index a cut-short stop left closed, or one closed to settle it"},
	{SideFollower, "drwatch_promote", "indices:admin/close", OnScope, "POST <indices>/_close: settle indices stopped while the follower's cluster manager or nodes changed (closed and reopened)"},
	{SideFollower, "drwatch_ha", "indices:data/write/bulk", OnCluster, "a write of the lease or the inbox (the security plugin checks a single document's write as a bulk)"},
	{SideFollower, "drwatch_ha", "indices:admin/create", OnHA, "create the lease index"},
	{SideFollower, "drwatch_ha", "indices:data/read/get", OnHA, "read the lease and inbox documents"},
	{SideFollower, "drwatch_ha", "indices:data/write/index", OnHA, "write the lease and inbox documents (conditionally)"},
	{SideFollower, "drwatch_ha", "indices:data/write/bulk[s]", OnWrite, "the shard-level part of those writes"},
	{SideFollower, "drwatch_drill", "cluster:admin/plugins/replication/autofollow/update", OnCluster, "failover drill: re-create the autofollow rules"},
	{SideFollower, "drwatch_drill", "indices:admin/plugins/replication/index/start", OnScope, "failover drill: start replication again (with use_roles: map the user to those roles too)"},
	{SideFollower, "drwatch_drill", "indices:admin/mappings/get", OnScope, "readiness: compare the follower's mappings"},
	{SideFollower, "drwatch_drill", "indices:data/read/search", OnScope, "drills: count documents"},
	{SideFollower, "drwatch_drill", "indices:admin/delete", OnScope, "failover drill: delete the promoted copies before restoring"},
	{SideFollower, "drwatch_drill", "indices:admin/refresh*", OnScope, "failover drill: refresh before counting"},
}

// PermissionsOf are the permissions of one side.
func PermissionsOf(side Side) []Permission {
	var out []Permission
	for _, p := range Permissions {
		if p.Side == side {
			out = append(out, p)
		}
	}
	return out
}

// PermissionCheck is the outcome of trying one permission.
type PermissionCheck struct {
	Permission Permission
	Allowed    bool   // the security plugin let the request through
	Untried    string // why it was not tried (then Allowed and Err say nothing)
	// Off: not tried because what needs it is off (HA without ha.enabled).
	Off bool
	Err error // the refusal (an *Error naming the permission), or why the try failed
}

// Probe names what the checks try permissions on.
type Probe struct {
	Scope    []string // the pair's index patterns
	Alias    string   // the follower's remote alias for the leader
	HAIndex  string   // the HA lease index ("" without HA)
	UseRoles *config.UseRoles
}

// probeName is a name in the pair's scope that no index has: the first
// pattern with a wildcard, the wildcard replaced. "" when the scope names
// only exact indices (an index action on one of them would act on it).
func probeName(scope []string, tag string) string {
	for _, p := range scope {
		if strings.HasPrefix(p, "-") || !strings.Contains(p, "*") {
			continue
		}
		name := strings.Replace(p, "*", tag, 1)
		return strings.ReplaceAll(name, "*", "")
	}
	return ""
}

func probeTag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "drwatch-permission-check-" + hex.EncodeToString(b)
}

// CheckPermissions tries each permission of side on this cluster without
// changing anything. A name it tries an index permission on is first
// checked to name no index.
func (c *Client) CheckPermissions(ctx context.Context, side Side, pr Probe) []PermissionCheck {
	tag := probeTag()
	name := probeName(pr.Scope, tag)
	// A read is tried on the name in any case; a write only once the
	// name is known to be free (read with indices:monitor/settings/get,
	// itself one of the reads).
	free := ""
	if name != "" {
		if exists, err := c.indexExists(ctx, name); err != nil || exists {
			free = "could not make sure that " + name + " names no index: not tried"
		}
	}
	var out []PermissionCheck
	for _, p := range PermissionsOf(side) {
		pc := PermissionCheck{Permission: p}
		req, untried := c.permissionRequest(p, name, tag, pr)
		if untried == "" && p.On == OnScope && free != "" && req.method != http.MethodGet {
			untried = free
		}
		if untried != "" {
			pc.Untried, pc.Off = untried, untried == haOff
			out = append(out, pc)
			continue
		}
		status, body, err := c.doAllow(ctx, "try "+p.Action, req.method, req.request, anyStatus)
		switch {
		case err != nil:
			pc.Err = err
		case status == 401 || status == 403:
			pc.Err = c.explain(classifyStatus("try "+p.Action, status, body))
		default:
			pc.Allowed = true
		}
		out = append(out, pc)
	}
	return out
}

type probeRequest struct {
	method string
	request
}

// permissionRequest is the request that tries p, or why there is none.
func (c *Client) permissionRequest(p Permission, name, tag string, pr Probe) (probeRequest, string) {
	get := func(path string, q url.Values) (probeRequest, string) {
		return probeRequest{http.MethodGet, request{path: path, query: q}}, ""
	}
	send := func(method, path, body string) (probeRequest, string) {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return probeRequest{method, request{path: path, body: b}}, ""
	}
	ix := "/" + url.PathEscape(name)
	if p.On == OnScope && name == "" {
		return probeRequest{}, "the pair's indices are named exactly: a try on one of them would act on it"
	}
	switch p.Action {
	case "cluster:monitor/health":
		return get("/_cluster/health", nil)
	case "cluster:monitor/state":
		return get("/_cluster/state/blocks", nil)
	case "cluster:monitor/remote/info":
		return get("/_remote/info", nil)
	case "cluster:monitor/tasks/lists":
		return get("/_tasks", url.Values{"actions": {tag}})
	case "indices:admin/plugins/replication/follower/stats":
		return get("/_plugins/_replication/follower_stats", nil)
	case "indices:admin/plugins/replication/autofollow/stats":
		return get("/_plugins/_replication/autofollow_stats", nil)
	case "indices:admin/plugins/replication/index/status_check":
		return get("/_plugins/_replication"+ix+"/_status", nil)
	case "indices:monitor/stats":
		return get(ix+"/_stats/docs", nil)
	case "indices:monitor/settings/get":
		return get(ix+"/_settings", nil)
	case "indices:admin/mappings/get":
		return get(ix+"/_mapping", nil)
	case "indices:data/read/search":
		if p.On == OnWitness {
			return get("/"+WitnessIndex+"/_search", url.Values{"size": {"0"}})
		}
		return get(ix+"/_search", url.Values{"size": {"0"}})
	case "indices:admin/block/add*":
		return send(http.MethodPut, ix+"/_block/write", "")
	case "indices:admin/refresh*":
		return send(http.MethodPost, ix+"/_refresh", "")
	case "indices:admin/settings/update":
		return send(http.MethodPut, ix+"/_settings", `{"index.blocks.write":false}`)
	case "indices:admin/open":
		return send(http.MethodPost, ix+"/_open", "")
	case "indices:admin/close":
		return send(http.MethodPost, ix+"/_close", "")
	case "indices:admin/delete":
		return send(http.MethodDelete, ix, "")
	case "indices:admin/plugins/replication/index/stop":
		return send(http.MethodPost, "/_plugins/_replication"+ix+"/_stop", "{}")
	case "indices:admin/plugins/replication/index/start":
		if pr.Alias == "" {
			return probeRequest{}, "no leader alias"
		}
		body, _ := json.Marshal(replicationBody{LeaderAlias: pr.Alias, LeaderIndex: name, UseRoles: pr.UseRoles})
		return send(http.MethodPut, "/_plugins/_replication"+ix+"/_start", string(body))
	case "cluster:admin/plugins/replication/autofollow/update":
		if pr.Alias == "" {
			return probeRequest{}, "no leader alias"
		}
		body, _ := json.Marshal(replicationBody{LeaderAlias: pr.Alias, Name: tag})
		return send(http.MethodDelete, "/_plugins/_replication/_autofollow", string(body))
	case "cluster:admin/settings/update":
		// null for a setting of an alias that does not exist: changes nothing
		return send(http.MethodPut, "/_cluster/settings", `{"persistent":{"cluster.remote.`+tag+`.skip_unavailable":null}}`)
	}
	if pr.HAIndex == "" && (p.On == OnHA || p.Role == "drwatch_ha") {
		return probeRequest{}, haOff
	}
	// A name beside the lease index that no index has (the lease index
	// may be an alias, through which a write would land): in the roles'
	// pattern .drwatch-ha*, never written - require_alias refuses a write
	// to a name that is no alias, a create with impossible settings fails.
	ha := "/" + url.PathEscape(pr.HAIndex+"-"+tag)
	switch p.Action {
	case "indices:admin/create":
		// settings no index can have: refused after the permission check
		return send(http.MethodPut, ha, `{"settings":{"index.number_of_shards":0}}`)
	case "indices:data/read/get":
		return get(ha+"/_doc/"+tag, nil)
	case "indices:data/write/index", "indices:data/write/bulk":
		// require_alias: the index is no alias, so nothing is written
		r, _ := send(http.MethodPut, ha+"/_doc/"+tag, `{}`)
		r.query = url.Values{"require_alias": {"true"}}
		return r, ""
	}
	return probeRequest{}, "checked by a real write only (a shard-level action)"
}

// haOff is why HA's permissions are not tried without ha.enabled.
const haOff = "HA is off"

// indexExists is whether name is an index or alias of the cluster, read
// with a permission drwatch has (indices:monitor/settings/get).
func (c *Client) indexExists(ctx context.Context, name string) (bool, error) {
	status, _, err := c.doAllow(ctx, "index exists", http.MethodGet, request{path: "/" + url.PathEscape(name) + "/_settings/index.number_of_shards"}, anyStatus)
	if err != nil {
		return false, err
	}
	switch status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &Error{Op: "index exists", Class: observe.ClassHTTP4xx, Status: status}
}

// Refused is whether a check found its permission refused.
func (pc PermissionCheck) Refused() bool {
	e, ok := AsError(pc.Err)
	return ok && e.Class == observe.ClassAuth
}
