#!/usr/bin/env bash
# Makes sure the end-to-end tests' programs exist: prometheus and promtool
# (Debian package prometheus), prometheus-alertmanager and chromium. As root
# with apt-get, it installs what is missing; otherwise it fails, naming what
# to install.
set -euo pipefail

declare -A pkg=([prometheus]=prometheus [promtool]=prometheus
	[prometheus-alertmanager]=prometheus-alertmanager [chromium]=chromium)
missing=()
for cmd in prometheus promtool prometheus-alertmanager chromium; do
	if ! command -v "$cmd" >/dev/null; then
		echo "deps: $cmd is missing (Debian package ${pkg[$cmd]})" >&2
		[[ " ${missing[*]} " == *" ${pkg[$cmd]} "* ]] || missing+=("${pkg[$cmd]}")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
	echo "deps: install them first: apt-get install --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

# The packages' maintainer scripts would start prometheus and alertmanager as
# services; the tests start their own. Without a policy-rc.d of the machine's
# own, one is put in place for the install (exit 101: no service is started).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	trap 'rm -f "$policy"' EXIT
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi

install() {
	DEBIAN_FRONTEND=noninteractive timeout 20m apt-get install -y --no-install-recommends \
		-o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null
}
echo "deps: apt-get install ${missing[*]}" >&2
if ! install; then
	echo "deps: the install failed; apt-get update, then once more" >&2
	timeout 10m apt-get update </dev/null
	install
fi

for cmd in prometheus promtool prometheus-alertmanager chromium; do
	command -v "$cmd" >/dev/null || { echo "deps: $cmd is still missing after installing ${pkg[$cmd]}" >&2; exit 1; }
done
