#!/usr/bin/env bash
# deploy/lab/capture.sh - record the replication plugin's real answers from a
# fresh lab into internal/testutil/fakeos/testdata/lab/, the fixtures the unit
# tests' fake clusters serve. It takes the lab down, brings it up, walks it
# through running, lagging, paused, stopped and leader-down states, and takes
# it down again. Bodies are stored exactly as the clusters sent them.
#
#   deploy/lab/capture.sh          (needs what `lab.sh up` needs, and the plugin)
set -euo pipefail
cd "$(dirname "$0")/../.."

LAB=deploy/lab/lab.sh
OUT=internal/testutil/fakeos/testdata/lab
L=http://127.0.0.1:19200
F=http://127.0.0.1:19201
SEQ='level=shards&filter_path=indices.*.shards.*.routing.primary,indices.*.shards.*.routing.state,indices.*.shards.*.seq_no'
SETTINGS='_settings/index.plugins.replication.follower.leader_index,index.number_of_shards?expand_wildcards=open,closed&ignore_unavailable=true&allow_no_indices=true&flat_settings=true'

log() { printf '[capture %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# capture NAME URL [METHOD] [BODY]: store the body as $OUT/NAME.json and print
# its HTTP status.
capture() {
	local name=$1 url=$2 method=${3:-GET} body=${4:-} code
	local -a args=(-sS -m 60 -X "$method" -o "$OUT/$name.json" -w '%{http_code}')
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(curl "${args[@]}" "$url")
	printf '%-40s HTTP %s\n' "$name.json" "$code"
}

# jget URL PYEXPR: evaluate a Python expression over the parsed JSON body (j).
jget() {
	curl -sS -m 30 "$1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

write() { # write INDEX N: N documents, one operation each
	local body="" i
	for ((i = 0; i < $2; i++)); do body+=$'{"index":{}}\n{"n":'"$i"$'}\n'; done
	curl -sS -m 60 -XPOST "$L/$1/_bulk" -H 'Content-Type: application/x-ndjson' --data-binary "$body" |
		python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(1 if j["errors"] else 0)'
}

until_true() { # until_true SECONDS DESCRIPTION COMMAND...
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@"; do
		((SECONDS - start < limit)) || { log "timed out waiting for $what"; exit 1; }
		sleep 1
	done
}

caught_up() { # every follower index's follower_stats checkpoints equal the leader's max_seq_no sums
	local lsum fsum
	lsum=$(jget "$L/orders-1,orders-2,logs-1/_stats/docs?$SEQ" 'sum(c["seq_no"]["max_seq_no"] for i in j["indices"].values() for s in i["shards"].values() for c in s if c["routing"]["primary"])')
	fsum=$(jget "$F/_plugins/_replication/follower_stats" 'sum(v["follower_checkpoint"] for v in j["index_stats"].values())')
	[[ $lsum == "$fsum" ]]
}

status_is() { [[ $(jget "$F/_plugins/_replication/$1/_status" 'j.get("status")') == "$2" ]]; }
failed_reads() { [[ $(jget "$F/_plugins/_replication/follower_stats" 'j["failed_read_requests"]') -gt 0 ]]; }
disconnected() { [[ $(jget "$F/_remote/info" 'j["leader"]["connected"]') == False ]]; }

mkdir -p "$OUT"
$LAB down >/dev/null
$LAB up >/dev/null
log "lab up; version: $(jget "$L" 'j["version"]["number"]')"

for idx in orders-1 orders-2 logs-1; do write "$idx" 20; done
until_true 120 "caught up" caught_up
log "running"
capture follower_stats_running "$F/_plugins/_replication/follower_stats"
capture autofollow_stats "$F/_plugins/_replication/autofollow_stats"
capture status_syncing "$F/_plugins/_replication/orders-1/_status"
capture status_syncing_verbose "$F/_plugins/_replication/orders-1/_status?verbose=true"
capture follower_settings "$F/*,-.*/$SETTINGS"
capture leader_seqnos_running "$L/logs-1,orders-1,orders-2/_stats/docs?$SEQ"
capture follower_seqnos_running "$F/*,-.*/_stats/docs?$SEQ"
capture remote_info_sniff_connected "$F/_remote/info"

log "40 writes into orders-2, read at once: the follower's view against the leader's own"
write orders-2 40
capture follower_stats_lagging "$F/_plugins/_replication/follower_stats"
capture follower_seqnos_lagging "$F/*,-.*/_stats/docs?$SEQ"
capture leader_seqnos_lagging "$L/logs-1,orders-1,orders-2/_stats/docs?$SEQ"
until_true 120 "caught up" caught_up

log "orders-2 paused, 7 writes"
capture pause_ack "$F/_plugins/_replication/orders-2/_pause" POST '{}'
until_true 60 "orders-2 PAUSED" status_is orders-2 PAUSED
write orders-2 7
capture status_paused "$F/_plugins/_replication/orders-2/_status"
capture follower_stats_paused "$F/_plugins/_replication/follower_stats"
capture leader_seqnos_paused "$L/logs-1,orders-1,orders-2/_stats/docs?$SEQ"
capture follower_seqnos_paused "$F/*,-.*/_stats/docs?$SEQ"
capture resume_ack "$F/_plugins/_replication/orders-2/_resume" POST '{}'
until_true 120 "caught up" caught_up

log "a plain index, and an index stopped twice"
curl -sS -m 30 -XPUT "$F/plain" -H 'Content-Type: application/json' -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null
capture status_not_in_progress "$F/_plugins/_replication/plain/_status"
curl -sS -m 30 -XPUT "$L/stopme" -H 'Content-Type: application/json' -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null
write stopme 3
capture start_ack "$F/_plugins/_replication/stopme/_start?wait_for_restore=true" PUT '{"leader_alias":"leader","leader_index":"stopme"}'
capture follower_settings_before_stop "$F/stopme/$SETTINGS"
capture cluster_state_follower_block "$F/_cluster/state/metadata,blocks/stopme?filter_path=metadata.indices.*.state,blocks.indices&expand_wildcards=open,closed"
capture stop_ack "$F/_plugins/_replication/stopme/_stop" POST '{}'
capture stop_not_in_progress_error "$F/_plugins/_replication/stopme/_stop" POST '{}'
capture follower_settings_after_stop "$F/stopme/$SETTINGS"
capture cluster_state_after_stop "$F/_cluster/state/metadata,blocks/stopme?filter_path=metadata.indices.*.state,blocks.indices&expand_wildcards=open,closed"
capture delete_autofollow_unknown_error "$F/_plugins/_replication/_autofollow" DELETE '{"leader_alias":"leader","name":"no-such-rule"}'

log "leader SIGKILLed"
kill -9 "$(cat /tmp/drwatch-lab/leader/opensearch.pid)"
until_true 30 "follower disconnected" disconnected
capture remote_info_sniff_disconnected "$F/_remote/info"
capture status_leader_down_error "$F/_plugins/_replication/orders-1/_status"
until_true 900 "failed reads on the follower" failed_reads
capture follower_stats_leader_down "$F/_plugins/_replication/follower_stats"
capture follower_seqnos_leader_down "$F/*,-.*/_stats/docs?$SEQ"

$LAB down >/dev/null
date -u +"captured %Y-%m-%dT%H:%M:%SZ from OpenSearch 2.19.3 with the replication plugin 2.19.3.0 by deploy/lab/capture.sh" >"$OUT/CAPTURED"
log "done: $OUT"
