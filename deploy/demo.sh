#!/usr/bin/env bash
# make demo: the local lab (a real leader and follower), drwatch watching it,
# and where to look. Ctrl-C stops drwatch; `make lab-down` stops the lab.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=deploy/examples/lab.yml
ADDR=127.0.0.1:9464

deploy/lab/lab.sh up
mkdir -p bin/state
bin/drwatch check --config "$CONFIG"

bin/drwatch run --config "$CONFIG" --log-format console >bin/demo.log 2>&1 &
DRWATCH_PID=$!
cleanup() { kill "$DRWATCH_PID" 2>/dev/null || true; wait "$DRWATCH_PID" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 60); do
	curl -fsS "http://$ADDR/-/ready" >/dev/null 2>&1 && break
	kill -0 "$DRWATCH_PID" 2>/dev/null || { cat bin/demo.log; exit 1; }
	sleep 0.5
done

echo
echo "=== drwatch status (probes both clusters once) ==="
bin/drwatch status --config "$CONFIG" || true
echo
echo "=== a few metrics from http://$ADDR/metrics ==="
curl -fsS "http://$ADDR/metrics" | grep -E '^drwatch_(leader_up|follower_remote_connected|replication_lag_operations|replication_stats_up|probe_http_requests_total|config_last_reload_successful)' || true
cat <<MSG

drwatch is running against the lab (pid $DRWATCH_PID, logs in bin/demo.log).
  metrics:     curl http://$ADDR/metrics
  status API:  curl http://$ADDR/api/v1/status
  status CLI:  bin/drwatch status --config $CONFIG
  leader:      http://127.0.0.1:19200     follower: http://127.0.0.1:19201
  try:         kill -9 \$(cat /tmp/drwatch-lab/leader/opensearch.pid)  and watch the status change
  stop:        Ctrl-C stops drwatch; make lab-down stops the lab
MSG

if [[ -t 0 && ${DEMO_NONINTERACTIVE:-0} != 1 ]]; then
	tail -f bin/demo.log
fi
