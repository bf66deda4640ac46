#!/usr/bin/env bash
# Runs the end-to-end tests against the real lab: e2e's TestMain brings up
# a fresh one with internal/lab and takes it down at the end.
#
# The tests that need the cross-cluster-replication plugin are built with
# the `ccr` tag when the plugin is available (DRWATCH_CCR_PLUGIN_ZIP,
# ../shared/ccr-plugin/, the download cache). Without it, under CI=true or
# DRWATCH_REQUIRE_CCR=1 this fails; otherwise the other tests run and a
# banner names the ones that did not.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p bin
go build -o bin/drwatch-lab ./cmd/drwatch-lab
bin/drwatch-lab fetch
tags=e2e
if bin/drwatch-lab has-ccr-plugin; then
	tags="e2e ccr"
elif [[ ${DRWATCH_REQUIRE_CCR:-0} == 1 || ${CI:-} == true ]]; then
	echo "e2e: the cross-cluster-replication plugin is required but not available (see deploy/lab/README.md)." >&2
	exit 1
fi

rc=0
go test -count=1 -timeout 80m -v -tags "$tags" ./e2e/ 2>&1 | tee bin/e2e.log || rc=$?

# The secured lab (LAB_SECURITY=1: the security plugin, TLS, drwatch as a
# least-privilege user): its own tests (e2e/security_ccr_test.go) and the
# promotion, the fence of a returning leader, HA and a failover drill,
# each proving that the security plugin refused the drwatch user nothing.
# A lab of its own, started once for the pass.
secure_run='^(TestSecure.*|TestCCRKilledLeaderAutoPromotesZeroLoss|TestChaosOldLeaderRestartedAfterPromotion|TestHALeaderKilledOneOfTwoPromotes|TestFailoverDrillTwiceZeroLoss)$'
if [[ $tags == *ccr* && ${E2E_SECURE:-1} == 1 ]]; then
	LAB_SECURITY=1 LAB_DIR="${LAB_DIR:-/tmp/drwatch-lab}-secure" \
		go test -count=1 -timeout 40m -v -tags "$tags secure" -run "$secure_run" ./e2e/ 2>&1 | tee bin/e2e-secure.log || rc=$?
fi

if [[ $tags != *ccr* ]]; then
	cat >&2 <<'MSG'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! NOT RUN: the end-to-end tests that need the cross-cluster-replication
!!! plugin (e2e/*_ccr_test.go): lag measured on both clusters, a killed
!!! leader promoted with every acknowledged write, promotion under writes,
!!! approval, dry-run, crash and resume, graceful promotion, a veto hook,
!!! hanging hooks, the status page in each state.
!!! No plugin zip was found; see deploy/lab/README.md for where to get it.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
MSG
fi
exit "$rc"
