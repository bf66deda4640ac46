#!/usr/bin/env bash
# Runs the end-to-end tests against the real lab (deploy/lab/lab.sh).
#
# The tests that need the cross-cluster-replication plugin (lag, promotion)
# are built with the `ccr` tag when the lab has the plugin: lab.sh finds it
# by itself (DRWATCH_CCR_PLUGIN_ZIP, ../shared/ccr-plugin/, the download
# cache). Without it, under CI=true or DRWATCH_REQUIRE_CCR=1 this fails;
# otherwise the other tests run and a banner names the ones that did not.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/lab/lab.sh fetch
tags=e2e
if deploy/lab/lab.sh has-ccr-plugin; then
	tags="e2e ccr"
elif [[ ${DRWATCH_REQUIRE_CCR:-0} == 1 || ${CI:-} == true ]]; then
	echo "e2e: the cross-cluster-replication plugin is required but not available (see deploy/lab/README.md)." >&2
	exit 1
fi

# A fresh lab: what an earlier run or the demo left in it (promoted
# indices, a dead leader) must not decide this run. DRWATCH_LAB_KEEP=1 keeps
# and reuses it.
if [[ -z ${DRWATCH_LAB_KEEP:-} ]]; then
	deploy/lab/lab.sh down
fi

mkdir -p bin
rc=0
go test -count=1 -timeout 80m -v -tags "$tags" ./e2e/ 2>&1 | tee bin/e2e.log || rc=$?

if [[ $tags != *ccr* ]]; then
	cat >&2 <<'MSG'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! NOT RUN: the end-to-end tests that need the cross-cluster-replication
!!! plugin (e2e/*_ccr_test.go): lag measured on both clusters, a killed
!!! leader promoted with every acknowledged write, promotion under writes,
!!! approval, dry-run, crash and resume, graceful promotion.
!!! No plugin zip was found; see deploy/lab/README.md for where to get it.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
MSG
fi
exit "$rc"
