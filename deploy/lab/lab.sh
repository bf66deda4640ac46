#!/usr/bin/env bash
# deploy/lab/lab.sh - a real two-cluster OpenSearch lab (leader + follower) on 127.0.0.1.
#
#   lab.sh fetch                         fetch the distribution (+ CCR plugin if obtainable) into LAB_CACHE
#   lab.sh up                            install, start both nodes, connect follower -> leader, sample data
#   lab.sh down                          stop both nodes and remove LAB_DIR (safe to repeat)
#   lab.sh status                        show node state and lab.env (exit 1 unless both nodes answer)
#   lab.sh start-node leader|follower    (re)start one node on its existing data dir
#   lab.sh stop-node  leader|follower    stop one node (SIGCONT, SIGTERM, SIGKILL after LAB_STOP_TIMEOUT)
#   lab.sh has-ccr-plugin                exit 0 when a CCR plugin zip is available (after fetch)
#
# See deploy/lab/README.md for the environment variables.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)

LAB_DIR=${LAB_DIR:-/tmp/drwatch-lab}
LAB_DIR=${LAB_DIR%/}
LAB_ENV_FILE="$LAB_DIR/lab.env"
LAB_MARKER="$LAB_DIR/.drwatch-lab"
LAB_SETUP_DONE="$LAB_DIR/.setup-done"

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
banner() {
	local line
	printf '\n' >&2
	printf '%s\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
	for line in "$@"; do printf '!!! %s\n' "$line" >&2; done
	printf '%s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
}

# ---------------------------------------------------------------------------
# Configuration. Values saved in lab.env by a previous `up` fill in variables
# that are not set in the environment, so `status`, `start-node`, `down` etc.
# work without repeating the env used for `up`. A conflicting explicit value
# is an error (the nodes' opensearch.yml is written once, at install time).
# ---------------------------------------------------------------------------
SAVED_KEYS=(OPENSEARCH_VERSION LEADER_HTTP_PORT LEADER_TRANSPORT_PORT FOLLOWER_HTTP_PORT FOLLOWER_TRANSPORT_PORT LEADER_ALIAS)
declare -A SAVED=()
if [[ -f $LAB_ENV_FILE ]]; then
	while IFS='=' read -r key value; do
		[[ $key =~ ^[A-Z_]+$ ]] || continue
		SAVED[$key]=$value
	done <"$LAB_ENV_FILE"
	for key in "${SAVED_KEYS[@]}"; do
		[[ -n ${SAVED[$key]:-} ]] || continue
		if [[ -z ${!key:-} ]]; then
			printf -v "$key" '%s' "${SAVED[$key]}"
		elif [[ ${!key} != "${SAVED[$key]}" ]]; then
			die "$key=${!key} differs from the running lab in $LAB_DIR ($key=${SAVED[$key]}); run '$0 down' first"
		fi
	done
fi

OPENSEARCH_VERSION=${OPENSEARCH_VERSION:-2.19.3}
CCR_PLUGIN_VERSION=${CCR_PLUGIN_VERSION:-$OPENSEARCH_VERSION.0}
LAB_CACHE=${LAB_CACHE:-$REPO_ROOT/.cache/lab}
LEADER_HTTP_PORT=${LEADER_HTTP_PORT:-19200}
LEADER_TRANSPORT_PORT=${LEADER_TRANSPORT_PORT:-19300}
FOLLOWER_HTTP_PORT=${FOLLOWER_HTTP_PORT:-19201}
FOLLOWER_TRANSPORT_PORT=${FOLLOWER_TRANSPORT_PORT:-19301}
LEADER_ALIAS=${LEADER_ALIAS:-leader}
LEADER_PROXY_ADDRESS=${LEADER_PROXY_ADDRESS:-}
LAB_TIMEOUT=${LAB_TIMEOUT:-240}
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-20}
LAB_CCR_TIMEOUT=${LAB_CCR_TIMEOUT:-180}
LAB_HEAP=${LAB_HEAP:-512m}
LAB_USER=${LAB_USER:-drwatch-lab}
DRWATCH_CCR_PLUGIN_ZIP=${DRWATCH_CCR_PLUGIN_ZIP:-}
MVN=${MVN:-mvn}

DIST_ZIP="$LAB_CACHE/opensearch-$OPENSEARCH_VERSION.zip"
SHARED_CCR_DIR=${SHARED_CCR_DIR:-$REPO_ROOT/../shared/ccr-plugin}
SHARED_CCR_ZIP="$SHARED_CCR_DIR/opensearch-cross-cluster-replication-$CCR_PLUGIN_VERSION.zip"
CCR_ARTIFACT="org.opensearch.plugin:opensearch-cross-cluster-replication:$CCR_PLUGIN_VERSION:zip"
CCR_CACHED_ZIP="$LAB_CACHE/opensearch-cross-cluster-replication-$CCR_PLUGIN_VERSION.zip"
CCR_UNAVAILABLE="$LAB_CACHE/opensearch-cross-cluster-replication-$CCR_PLUGIN_VERSION.unavailable"
LEADER_URL="http://127.0.0.1:$LEADER_HTTP_PORT"
FOLLOWER_URL="http://127.0.0.1:$FOLLOWER_HTTP_PORT"

RUNAS=()
OS_JAVA_HOME=""
declare -A LAUNCHER=()

validate_config() {
	local v
	for v in LEADER_HTTP_PORT LEADER_TRANSPORT_PORT FOLLOWER_HTTP_PORT FOLLOWER_TRANSPORT_PORT LAB_TIMEOUT LAB_STOP_TIMEOUT LAB_CCR_TIMEOUT; do
		[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
	done
	local ports="$LEADER_HTTP_PORT $LEADER_TRANSPORT_PORT $FOLLOWER_HTTP_PORT $FOLLOWER_TRANSPORT_PORT"
	[[ $(tr ' ' '\n' <<<"$ports" | sort -u | wc -l) -eq 4 ]] || die "the four ports must be distinct (got $ports)"
	# Restricting the charset keeps lab.env trivially parseable and the pgrep pattern exact.
	[[ $LAB_DIR =~ ^/[A-Za-z0-9._/-]+$ && $LAB_DIR != / ]] || die "LAB_DIR must be an absolute path of [A-Za-z0-9._/-] (got '$LAB_DIR')"
	[[ $LEADER_ALIAS =~ ^[A-Za-z0-9_-]+$ ]] || die "LEADER_ALIAS must match [A-Za-z0-9_-]+ (got '$LEADER_ALIAS')"
	[[ $OPENSEARCH_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad OPENSEARCH_VERSION '$OPENSEARCH_VERSION'"
	[[ -z $LEADER_PROXY_ADDRESS || $LEADER_PROXY_ADDRESS =~ ^[A-Za-z0-9.:_-]+:[0-9]+$ ]] || die "LEADER_PROXY_ADDRESS must be host:port (got '$LEADER_PROXY_ADDRESS')"
}

need_cmd() {
	local c=$1 hint=$2
	command -v "$c" >/dev/null 2>&1 || die "'$c' not found; install it ($hint)"
}

require_mvn() {
	need_cmd "$MVN" "Debian/Ubuntu: apt-get install -y maven openjdk-17-jdk-headless"
}

# Resolve the JDK for OpenSearch: OPENSEARCH_JAVA_HOME, JAVA_HOME, or the java on PATH.
resolve_java() {
	local java_bin
	if [[ -n ${OPENSEARCH_JAVA_HOME:-} ]]; then
		OS_JAVA_HOME=$OPENSEARCH_JAVA_HOME
	elif [[ -n ${JAVA_HOME:-} ]]; then
		OS_JAVA_HOME=$JAVA_HOME
	elif java_bin=$(command -v java 2>/dev/null); then
		java_bin=$(readlink -f "$java_bin")
		OS_JAVA_HOME=$(dirname "$(dirname "$java_bin")")
	else
		die "no Java found; install a JDK 17 (Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless) or set JAVA_HOME"
	fi
	[[ -x $OS_JAVA_HOME/bin/java ]] || die "$OS_JAVA_HOME/bin/java is not executable; install openjdk-17-jdk-headless or fix JAVA_HOME/OPENSEARCH_JAVA_HOME"
	local ver major
	ver=$("$OS_JAVA_HOME/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
	major=${ver%%.*}
	[[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$ver")
	[[ $major =~ ^[0-9]+$ && $major -ge 11 ]] || die "OpenSearch $OPENSEARCH_VERSION needs Java 11+ (17 recommended), found '$ver' at $OS_JAVA_HOME; install openjdk-17-jdk-headless"
}

# OpenSearch refuses to run as root: when we are root, run the nodes as $LAB_USER.
setup_runas() {
	RUNAS=()
	if [[ $EUID -ne 0 ]]; then
		return
	fi
	if ! id -u "$LAB_USER" >/dev/null 2>&1; then
		need_cmd useradd "package passwd"
		log "creating system user $LAB_USER"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$LAB_USER" 2>/dev/null ||
			id -u "$LAB_USER" >/dev/null 2>&1 || die "could not create user $LAB_USER"
	fi
	local uid gid
	uid=$(id -u "$LAB_USER")
	gid=$(id -g "$LAB_USER")
	if command -v setpriv >/dev/null 2>&1; then
		RUNAS=(setpriv "--reuid=$uid" "--regid=$gid" --init-groups)
	elif command -v runuser >/dev/null 2>&1; then
		RUNAS=(runuser -u "$LAB_USER" --)
	else
		die "need setpriv or runuser (package util-linux) to drop root privileges"
	fi
}

# Serialise up/down/start-node/stop-node. fd 9 must never leak into the JVMs (see launch_node).
take_lock() {
	local lock="$LAB_DIR.lock"
	command -v flock >/dev/null 2>&1 || return 0
	{ exec 9>>"$lock"; } 2>/dev/null || { exec 9<"$lock"; } 2>/dev/null || return 0
	chmod 666 "$lock" 2>/dev/null || true
	flock -w 300 9 || die "could not lock $lock (another lab.sh running?)"
}

# ---------------------------------------------------------------------------
# HTTP helpers (no jq needed). http METHOD URL [BODY] [TIMEOUT] sets HTTP_CODE/HTTP_BODY.
# ---------------------------------------------------------------------------
HTTP_CODE=000
HTTP_BODY=""
http() {
	local method=$1 url=$2 body=${3:-} timeout=${4:-30} out
	local args=(-sS -m "$timeout" -X "$method" -w '\n%{http_code}')
	if [[ -n $body ]]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	if ! out=$(curl "${args[@]}" "$url" 2>&1); then
		HTTP_CODE=000
		HTTP_BODY=$out
		return 1
	fi
	HTTP_CODE=${out##*$'\n'}
	HTTP_BODY=${out%$'\n'*}
	[[ $HTTP_CODE == 2?? ]]
}

# http_ndjson URL BODY: POST newline-delimited JSON (bulk API).
http_ndjson() {
	local url=$1 body=$2 out
	out=$(curl -sS -m 60 -X POST -H 'Content-Type: application/x-ndjson' --data-binary "$body" -w '\n%{http_code}' "$url" 2>&1) || {
		HTTP_CODE=000
		HTTP_BODY=$out
		return 1
	}
	HTTP_CODE=${out##*$'\n'}
	HTTP_BODY=${out%$'\n'*}
	[[ $HTTP_CODE == 2?? && $(json_get errors) == false ]]
}

# json_get KEY... prints the value at that key path of the JSON in HTTP_BODY
# (true/false for booleans, compact JSON for objects and lists) and fails when
# the body is not JSON or the path is absent. JSON is parsed, never matched.
json_get() {
	python3 -c '
import json, sys
v = json.loads(sys.stdin.read())
for k in sys.argv[1:]:
    if isinstance(v, dict) and k in v:
        v = v[k]
    else:
        sys.exit(1)
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
' "$@" <<<"$HTTP_BODY"
}

# ---------------------------------------------------------------------------
# Node helpers
# ---------------------------------------------------------------------------
check_node_name() {
	[[ ${1:-} == leader || ${1:-} == follower ]] || die "node must be 'leader' or 'follower' (got '${1:-}')"
}
node_home() { printf '%s/%s' "$LAB_DIR" "$1"; }
node_pidfile() { printf '%s/%s/opensearch.pid' "$LAB_DIR" "$1"; }
node_url() { if [[ $1 == leader ]]; then printf '%s' "$LEADER_URL"; else printf '%s' "$FOLLOWER_URL"; fi; }
node_http_port() { if [[ $1 == leader ]]; then printf '%s' "$LEADER_HTTP_PORT"; else printf '%s' "$FOLLOWER_HTTP_PORT"; fi; }
node_transport_port() { if [[ $1 == leader ]]; then printf '%s' "$LEADER_TRANSPORT_PORT"; else printf '%s' "$FOLLOWER_TRANSPORT_PORT"; fi; }

# Does pid $2 belong to the OpenSearch JVM of node $1?
pid_is_node() {
	local node=$1 pid=$2 home
	home=$(node_home "$node")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -Fxq -- "-Dopensearch.path.home=$home"
}

# The pid in node $1's pid file (OpenSearch deletes it on shutdown, so it may vanish any time).
read_pidfile() {
	{ tr -dc '0-9' <"$(node_pidfile "$1")"; } 2>/dev/null || true
}

# All pids of node $1's JVM (pid file first, then a match on its exact home path).
node_pids() {
	local node=$1 home pid pattern
	home=$(node_home "$node")
	{
		if [[ -f $(node_pidfile "$node") ]]; then
			pid=$(read_pidfile "$node")
			if [[ -n $pid ]] && pid_is_node "$node" "$pid"; then echo "$pid"; fi
		fi
		pattern="-Dopensearch\\.path\\.home=${home//./\\.}( |\$)"
		pgrep -f -- "$pattern" 2>/dev/null || true
	} | while read -r pid; do
		pid_is_node "$node" "$pid" && echo "$pid"
	done | sort -un
}

node_pid() { node_pids "$1" | head -n1; }
node_running() { [[ -n $(node_pid "$1") ]]; }

node_healthy() {
	http GET "$(node_url "$1")/_cluster/health?wait_for_status=yellow&timeout=1s" "" 5
}

proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true; }

clean_stale_pidfile() {
	local node=$1 pidfile pid
	pidfile=$(node_pidfile "$node")
	[[ -f $pidfile ]] || return 0
	pid=$(read_pidfile "$node")
	if [[ -z $pid ]] || ! pid_is_node "$node" "$pid"; then
		log "$node: removing stale pid file $pidfile (pid '${pid}' is gone)"
		rm -f "$pidfile"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_node_logs() {
	local node=$1 home f
	home=$(node_home "$node")
	f="$home/logs/drwatch-$node.log"
	if [[ -s $f ]]; then
		log "$node: last 60 lines of $f:"
		tail -n 60 "$f" >&2
	else
		for f in "$home"/logs/*.log; do
			[[ -s $f && $f != */launcher.log ]] || continue
			log "$node: last 60 lines of $f:"
			tail -n 60 "$f" >&2
		done
	fi
	f="$home/logs/launcher.log"
	if [[ -s $f ]]; then
		log "$node: last 20 lines of $f (bin/opensearch output):"
		tail -n 20 "$f" >&2
	fi
}

# The CCR plugin zip, in order: DRWATCH_CCR_PLUGIN_ZIP, the zip in ../shared/ccr-plugin/
# (checked against its SHA256SUMS), the download cache. Prints nothing when there is none.
ccr_plugin_zip() {
	if [[ -n $DRWATCH_CCR_PLUGIN_ZIP ]]; then
		printf '%s' "$DRWATCH_CCR_PLUGIN_ZIP"
	elif [[ -s $SHARED_CCR_ZIP ]]; then
		printf '%s' "$SHARED_CCR_ZIP"
	elif [[ -s $CCR_CACHED_ZIP ]]; then
		printf '%s' "$CCR_CACHED_ZIP"
	fi
}

# verify_shared_zip fails unless the shared zip matches its SHA256SUMS line.
verify_shared_zip() {
	local sums="$SHARED_CCR_DIR/SHA256SUMS" want got
	[[ -f $sums ]] || die "$sums is missing: cannot verify $SHARED_CCR_ZIP"
	want=$(awk -v f="$(basename "$SHARED_CCR_ZIP")" '$2 == f || $2 == "*" f {print $1}' "$sums")
	[[ -n $want ]] || die "$sums has no line for $(basename "$SHARED_CCR_ZIP")"
	need_cmd sha256sum "package coreutils"
	got=$(sha256sum "$SHARED_CCR_ZIP" | awk '{print $1}')
	[[ $got == "$want" ]] || die "$SHARED_CCR_ZIP has SHA256 $got, but $sums says $want: the zip is damaged or was replaced"
}

no_plugin_help() {
	printf '%s\n' \
		"No cross-cluster-replication plugin zip for OpenSearch $OPENSEARCH_VERSION was found. Looked at:" \
		"  DRWATCH_CCR_PLUGIN_ZIP (unset), $SHARED_CCR_ZIP, $CCR_CACHED_ZIP, and Maven Central ($CCR_ARTIFACT)." \
		"Get opensearch-cross-cluster-replication-$CCR_PLUGIN_VERSION.zip from OpenSearch's release artifacts" \
		"(the plugin of exactly your OpenSearch version), or build it from its source tag, then either" \
		"set DRWATCH_CCR_PLUGIN_ZIP=/path/to/it or copy it to $CCR_CACHED_ZIP."
}

lab_ccr() {
	[[ $(cat "$LAB_DIR/leader/.ccr" 2>/dev/null) == 1 && $(cat "$LAB_DIR/follower/.ccr" 2>/dev/null) == 1 ]]
}

# ---------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------
mvn_copy() {
	local artifact=$1 logf=$2
	# Run outside the repo so no pom.xml is picked up; only Maven Central is reachable.
	(cd "$LAB_CACHE" && "$MVN" -q -B dependency:copy "-Dartifact=$artifact" "-DoutputDirectory=$LAB_CACHE") >"$logf" 2>&1
}

fetch_dist() {
	if [[ -s $DIST_ZIP && -f $DIST_ZIP.ok ]]; then
		log "distribution cached: $DIST_ZIP"
		return
	fi
	require_mvn
	need_cmd unzip "Debian/Ubuntu: apt-get install -y unzip"
	mkdir -p "$LAB_CACHE"
	local artifact="org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip"
	log "fetching $artifact with mvn"
	local logf="$LAB_CACHE/mvn-dist.log"
	if ! mvn_copy "$artifact" "$logf"; then
		tail -n 20 "$logf" >&2 || true
		die "mvn could not fetch $artifact (see $logf)"
	fi
	[[ -s $DIST_ZIP ]] || die "mvn succeeded but $DIST_ZIP is missing"
	unzip -tq "$DIST_ZIP" >/dev/null || die "$DIST_ZIP is corrupt; delete it and retry"
	touch "$DIST_ZIP.ok"
	log "fetched $DIST_ZIP"
}

fetch_ccr_plugin() {
	if [[ -n $DRWATCH_CCR_PLUGIN_ZIP ]]; then
		[[ -f $DRWATCH_CCR_PLUGIN_ZIP ]] || die "DRWATCH_CCR_PLUGIN_ZIP=$DRWATCH_CCR_PLUGIN_ZIP does not exist"
		DRWATCH_CCR_PLUGIN_ZIP=$(readlink -f "$DRWATCH_CCR_PLUGIN_ZIP")
		log "CCR plugin: using DRWATCH_CCR_PLUGIN_ZIP=$DRWATCH_CCR_PLUGIN_ZIP"
		return
	fi
	if [[ -s $SHARED_CCR_ZIP ]]; then
		verify_shared_zip
		log "CCR plugin: $SHARED_CCR_ZIP (SHA256 verified)"
		return
	fi
	if [[ -s $CCR_CACHED_ZIP ]]; then
		log "CCR plugin cached: $CCR_CACHED_ZIP"
		return
	fi
	if [[ ! -f $CCR_UNAVAILABLE || ${LAB_RETRY_CCR:-0} == 1 ]] && command -v "$MVN" >/dev/null 2>&1; then
		mkdir -p "$LAB_CACHE"
		log "CCR plugin: trying $CCR_ARTIFACT on Maven Central"
		if mvn_copy "$CCR_ARTIFACT" "$LAB_CACHE/mvn-ccr.log" && [[ -s $CCR_CACHED_ZIP ]]; then
			rm -f "$CCR_UNAVAILABLE"
			log "CCR plugin fetched: $CCR_CACHED_ZIP"
			return
		fi
		date -u +%Y-%m-%dT%H:%M:%SZ >"$CCR_UNAVAILABLE"
	fi
	if [[ ${CI:-} == true ]]; then
		no_plugin_help >&2
		die "CI=true: a lab without the replication plugin is a failure"
	fi
	local -a lines
	mapfile -t lines < <(no_plugin_help)
	banner "${lines[@]}" "The lab will run WITHOUT cross-cluster replication (CCR=0)."
}

cmd_fetch() {
	validate_config
	fetch_dist
	fetch_ccr_plugin
}

# ---------------------------------------------------------------------------
# install / start / stop
# ---------------------------------------------------------------------------
write_node_config() {
	local node=$1 home
	home=$(node_home "$node")
	cat >"$home/config/opensearch.yml" <<EOF
# written by deploy/lab/lab.sh
cluster.name: drwatch-$node
node.name: $node
network.host: 127.0.0.1
http.port: $(node_http_port "$node")
transport.port: $(node_transport_port "$node")
path.data: $home/data
path.logs: $home/logs
discovery.type: single-node
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
}

install_node() {
	local node=$1 home unpack plugin
	home=$(node_home "$node")
	if [[ -x $home/bin/opensearch && -f $home/.ccr ]]; then
		return 0
	fi
	log "$node: installing OpenSearch $OPENSEARCH_VERSION into $home"
	unpack="$LAB_DIR/.unpack-$node"
	rm -rf "$home" "$unpack"
	mkdir -p "$unpack"
	unzip -q "$DIST_ZIP" -d "$unpack"
	mv "$unpack/opensearch-$OPENSEARCH_VERSION" "$home"
	rm -rf "$unpack"
	mkdir -p "$home/data" "$home/logs" "$home/tmp"
	write_node_config "$node"
	plugin=$(ccr_plugin_zip)
	if [[ -n $plugin ]]; then
		log "$node: installing CCR plugin from $plugin"
		if ! (cd "$home" && env OPENSEARCH_JAVA_HOME="$OS_JAVA_HOME" OPENSEARCH_PATH_CONF="$home/config" \
			bin/opensearch-plugin install --batch "file://$plugin") >"$home/logs/plugin-install.log" 2>&1; then
			cat "$home/logs/plugin-install.log" >&2
			die "$node: installing the CCR plugin from $plugin failed (wrong version for OpenSearch $OPENSEARCH_VERSION?)"
		fi
		echo 1 >"$home/.ccr"
	else
		echo 0 >"$home/.ccr"
	fi
}

install_lab() {
	if [[ -d $LAB_DIR && ! -f $LAB_MARKER && -n $(ls -A "$LAB_DIR" 2>/dev/null) ]]; then
		die "$LAB_DIR exists, is not empty and is not a lab dir (no $LAB_MARKER); choose another LAB_DIR"
	fi
	if [[ -f $LAB_MARKER && $(cat "$LAB_MARKER") != "$OPENSEARCH_VERSION" ]]; then
		die "$LAB_DIR holds OpenSearch $(cat "$LAB_MARKER"), not $OPENSEARCH_VERSION; run '$0 down' first"
	fi
	mkdir -p "$LAB_DIR"
	chmod 755 "$LAB_DIR"
	echo "$OPENSEARCH_VERSION" >"$LAB_MARKER"
	both_nodes install_node || die "installation failed"
	if [[ $EUID -eq 0 ]]; then
		chown -R "$LAB_USER:$(id -gn "$LAB_USER")" "$LAB_DIR/leader" "$LAB_DIR/follower"
		chown "$LAB_USER:$(id -gn "$LAB_USER")" "$LAB_DIR"
		# the node user must be able to reach LAB_DIR (e.g. not under /root)
		"${RUNAS[@]}" test -w "$LAB_DIR/leader/data" ||
			die "user $LAB_USER cannot reach $LAB_DIR (a parent directory is not traversable?); use a LAB_DIR under /tmp"
		"${RUNAS[@]}" "$OS_JAVA_HOME/bin/java" -version >/dev/null 2>&1 ||
			die "user $LAB_USER cannot run $OS_JAVA_HOME/bin/java; install openjdk-17-jdk-headless system-wide"
	fi
}

launch_node() {
	local node=$1 home pidfile
	home=$(node_home "$node")
	pidfile=$(node_pidfile "$node")
	[[ -x $home/bin/opensearch ]] || die "$node is not installed in $home; run '$0 up' first"
	clean_stale_pidfile "$node"
	local pid
	pid=$(node_pid "$node")
	if [[ -n $pid ]]; then
		if [[ $(proc_state "$pid") == T* ]]; then
			log "$node: pid $pid is stopped (SIGSTOP); sending SIGCONT"
			kill -CONT "$pid" 2>/dev/null || true
		fi
		log "$node: already running (pid $pid)"
		return 0
	fi
	local port
	for port in "$(node_http_port "$node")" "$(node_transport_port "$node")"; do
		port_in_use "$port" && die "$node: port $port on 127.0.0.1 is already in use by another process"
	done
	rm -f "$pidfile"
	: >>"$home/logs/launcher.log"
	if [[ $EUID -eq 0 ]]; then chown "$LAB_USER" "$home/logs/launcher.log"; fi
	log "$node: starting (http $(node_http_port "$node"), transport $(node_transport_port "$node"))"
	# setsid detaches the JVM from our session so it survives the caller's process group.
	(
		cd "$home"
		exec setsid "${RUNAS[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
			OPENSEARCH_JAVA_HOME="$OS_JAVA_HOME" \
			OPENSEARCH_JAVA_OPTS="-Xms$LAB_HEAP -Xmx$LAB_HEAP" \
			OPENSEARCH_PATH_CONF="$home/config" \
			OPENSEARCH_TMPDIR="$home/tmp" \
			./bin/opensearch -d -p "$pidfile"
	) </dev/null >>"$home/logs/launcher.log" 2>&1 9>&- &
	LAUNCHER[$node]=$!
}

# Wait (in parallel) until every given node answers health=yellow, or fail with its log.
wait_nodes() {
	local start=$SECONDS deadline=$((SECONDS + LAB_TIMEOUT)) node lpid
	local -a pending=("$@") still
	while ((${#pending[@]} > 0)); do
		still=()
		for node in "${pending[@]}"; do
			if node_healthy "$node"; then
				log "$node: up after $((SECONDS - start))s (pid $(node_pid "$node"))"
				continue
			fi
			lpid=${LAUNCHER[$node]:-}
			if [[ -n $lpid ]] && ! kill -0 "$lpid" 2>/dev/null; then
				if ! wait "$lpid"; then
					print_node_logs "$node"
					die "$node: bin/opensearch failed to start"
				fi
				LAUNCHER[$node]=""
			fi
			if [[ -z ${LAUNCHER[$node]:-} ]] && ! node_running "$node"; then
				print_node_logs "$node"
				die "$node: the OpenSearch process exited during startup"
			fi
			still+=("$node")
		done
		pending=("${still[@]+"${still[@]}"}")
		((${#pending[@]} == 0)) && break
		if ((SECONDS >= deadline)); then
			for node in "${pending[@]}"; do print_node_logs "$node"; done
			die "timed out after ${LAB_TIMEOUT}s waiting for: ${pending[*]} (LAB_TIMEOUT to raise)"
		fi
		sleep 2
	done
}

# A pid is gone once /proc has no entry or it is a zombie (its sockets and locks are released
# by then; an exiting JVM loses its cmdline slightly earlier, while still holding its ports).
pids_alive() {
	local pid st
	for pid in "$@"; do
		st=$(proc_state "$pid")
		[[ -n $st && $st != Z* ]] && return 0
	done
	return 1
}

stop_node() {
	local node=$1 deadline
	local -a pids
	mapfile -t pids < <(node_pids "$node")
	if ((${#pids[@]} == 0)); then
		log "$node: not running"
		rm -f "$(node_pidfile "$node")"
		return 0
	fi
	log "$node: stopping pid(s) ${pids[*]}"
	# SIGCONT first: a test may have frozen the node with SIGSTOP.
	kill -CONT "${pids[@]}" 2>/dev/null || true
	kill -TERM "${pids[@]}" 2>/dev/null || true
	deadline=$((SECONDS + LAB_STOP_TIMEOUT))
	while pids_alive "${pids[@]}" && ((SECONDS < deadline)); do sleep 0.5; done
	if pids_alive "${pids[@]}"; then
		log "$node: still alive after ${LAB_STOP_TIMEOUT}s, sending SIGKILL to ${pids[*]}"
		kill -KILL "${pids[@]}" 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while pids_alive "${pids[@]}" && ((SECONDS < deadline)); do sleep 0.2; done
		! pids_alive "${pids[@]}" || die "$node: could not kill ${pids[*]}"
	fi
	rm -f "$(node_pidfile "$node")"
	log "$node: stopped"
}

# ---------------------------------------------------------------------------
# remote connection, sample data, replication
# ---------------------------------------------------------------------------
remote_connected() {
	http GET "$FOLLOWER_URL/_remote/info" "" 10 || return 1
	[[ $(json_get "$LEADER_ALIAS" connected) == true ]]
}

configure_remote() {
	local a="cluster.remote.$LEADER_ALIAS" body
	if [[ -n $LEADER_PROXY_ADDRESS ]]; then
		body="{\"persistent\":{\"$a.mode\":\"proxy\",\"$a.proxy_address\":\"$LEADER_PROXY_ADDRESS\",\"$a.seeds\":null}}"
		log "follower: remote '$LEADER_ALIAS' -> proxy $LEADER_PROXY_ADDRESS"
	else
		body="{\"persistent\":{\"$a.mode\":null,\"$a.proxy_address\":null,\"$a.seeds\":[\"127.0.0.1:$LEADER_TRANSPORT_PORT\"]}}"
		log "follower: remote '$LEADER_ALIAS' -> seeds 127.0.0.1:$LEADER_TRANSPORT_PORT"
	fi
	http PUT "$FOLLOWER_URL/_cluster/settings" "$body" || die "setting the remote cluster failed: HTTP $HTTP_CODE $HTTP_BODY"
	if [[ -z $LEADER_PROXY_ADDRESS ]]; then
		# The replication plugin drops its internal repository for the alias
		# when a switch from proxy to sniff mode empties proxy_address after
		# setting the seeds; changing the seeds again registers it again
		# (without it every later _start fails: "repository ... missing").
		http PUT "$FOLLOWER_URL/_cluster/settings" "{\"persistent\":{\"$a.seeds\":[\"127.0.0.1:$LEADER_TRANSPORT_PORT\",\"localhost:$LEADER_TRANSPORT_PORT\"]}}" &&
			http PUT "$FOLLOWER_URL/_cluster/settings" "{\"persistent\":{\"$a.seeds\":[\"127.0.0.1:$LEADER_TRANSPORT_PORT\"]}}" ||
			die "setting the remote cluster's seeds failed: HTTP $HTTP_CODE $HTTP_BODY"
	fi
}

# Remote connections are re-established lazily; a cross-cluster request nudges them.
nudge_remote() {
	http GET "$FOLLOWER_URL/$LEADER_ALIAS:*/_search?size=0&ignore_unavailable=true&allow_no_indices=true" "" 10 >/dev/null 2>&1 || true
}

wait_remote_connected() {
	local timeout=$1 start=$SECONDS
	while ! remote_connected; do
		if ((SECONDS - start >= timeout)); then
			log "follower _remote/info: $HTTP_BODY"
			die "follower did not connect to remote '$LEADER_ALIAS' within ${timeout}s"
		fi
		nudge_remote
		sleep 1
	done
	log "follower: remote '$LEADER_ALIAS' connected after $((SECONDS - start))s: $HTTP_BODY"
}

create_sample_index() {
	local index=$1 kind=$2 shards=$3 i bulk=""
	if http GET "$LEADER_URL/$index" "" 10; then
		log "leader: index $index exists"
		return 0
	fi
	http PUT "$LEADER_URL/$index" "{\"settings\":{\"index\":{\"number_of_shards\":$shards,\"number_of_replicas\":0}}}" ||
		[[ $(json_get error type) == resource_already_exists_exception ]] ||
		die "creating $index failed: HTTP $HTTP_CODE $HTTP_BODY"
	for i in 1 2 3 4 5; do
		bulk+="{\"index\":{\"_id\":\"$i\"}}"$'\n'
		if [[ $kind == orders ]]; then
			bulk+="{\"order_id\":$i,\"customer\":\"customer-$i\",\"amount\":$((i * 10)).5,\"index\":\"$index\"}"$'\n'
		else
			bulk+="{\"level\":\"info\",\"message\":\"sample log line $i\",\"seq\":$i}"$'\n'
		fi
	done
	http_ndjson "$LEADER_URL/$index/_bulk?refresh=true" "$bulk" || die "indexing into $index failed: HTTP $HTTP_CODE $HTTP_BODY"
	log "leader: created $index ($shards shards) with 5 docs"
}

replication_active() {
	http GET "$FOLLOWER_URL/_plugins/_replication/$1/_status" "" 10 || return 1
	case $(json_get status) in SYNCING | BOOTSTRAPPING | RUNNING | PAUSED) return 0 ;; esac
	return 1
}

setup_replication() {
	local idx
	for idx in orders-1 orders-2; do
		if replication_active "$idx"; then
			log "follower: replication of $idx already active"
			continue
		fi
		log "follower: starting replication of $idx"
		http PUT "$FOLLOWER_URL/_plugins/_replication/$idx/_start?wait_for_restore=true" \
			"{\"leader_alias\":\"$LEADER_ALIAS\",\"leader_index\":\"$idx\"}" 180 ||
			[[ $(json_get error reason) == *already* ]] ||
			die "starting replication of $idx failed: HTTP $HTTP_CODE $HTTP_BODY"
	done
	log "follower: autofollow rule 'logs' for logs-*"
	http POST "$FOLLOWER_URL/_plugins/_replication/_autofollow" \
		"{\"leader_alias\":\"$LEADER_ALIAS\",\"name\":\"logs\",\"pattern\":\"logs-*\"}" 60 ||
		[[ $(json_get error reason) == *already* ]] ||
		die "creating the autofollow rule failed: HTTP $HTTP_CODE $HTTP_BODY"
	local start=$SECONDS n=0
	while :; do
		if http GET "$FOLLOWER_URL/_plugins/_replication/follower_stats" "" 10 &&
			n=$(json_get num_syncing_indices); then
			((n >= 3)) && break
		fi
		((SECONDS - start < LAB_CCR_TIMEOUT)) ||
			die "only $n of 3 indices syncing after ${LAB_CCR_TIMEOUT}s: $HTTP_BODY"
		sleep 3
	done
	log "follower: $n indices syncing after $((SECONDS - start))s"
}

write_env() {
	local ccr=0 tmp
	lab_ccr && ccr=1
	tmp="$LAB_ENV_FILE.tmp.$$"
	cat >"$tmp" <<EOF
LEADER_URL=$LEADER_URL
FOLLOWER_URL=$FOLLOWER_URL
LEADER_TRANSPORT=127.0.0.1:$LEADER_TRANSPORT_PORT
FOLLOWER_TRANSPORT=127.0.0.1:$FOLLOWER_TRANSPORT_PORT
LEADER_PID=$(node_pid leader)
FOLLOWER_PID=$(node_pid follower)
LEADER_ALIAS=$LEADER_ALIAS
CCR=$ccr
LAB_DIR=$LAB_DIR
OPENSEARCH_VERSION=$OPENSEARCH_VERSION
LEADER_HTTP_PORT=$LEADER_HTTP_PORT
LEADER_TRANSPORT_PORT=$LEADER_TRANSPORT_PORT
FOLLOWER_HTTP_PORT=$FOLLOWER_HTTP_PORT
FOLLOWER_TRANSPORT_PORT=$FOLLOWER_TRANSPORT_PORT
LEADER_PROXY_ADDRESS=$LEADER_PROXY_ADDRESS
EOF
	chmod 644 "$tmp"
	mv -f "$tmp" "$LAB_ENV_FILE"
}

lab_is_healthy() {
	[[ -f $LAB_SETUP_DONE && -f $LAB_ENV_FILE ]] || return 1
	# a different LEADER_PROXY_ADDRESS (set or unset) means: reconfigure the remote
	[[ ${SAVED[LEADER_PROXY_ADDRESS]:-} == "$LEADER_PROXY_ADDRESS" ]] || return 1
	local node pid
	for node in leader follower; do
		pid=$(node_pid "$node")
		[[ -n $pid && $(proc_state "$pid") != T* ]] || return 1
		node_healthy "$node" || return 1
	done
	remote_connected
}

# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------
cmd_up() {
	validate_config
	need_cmd curl "Debian/Ubuntu: apt-get install -y curl"
	need_cmd python3 "Debian/Ubuntu: apt-get install -y python3 (the lab parses JSON with it)"
	need_cmd unzip "Debian/Ubuntu: apt-get install -y unzip"
	need_cmd pgrep "Debian/Ubuntu: apt-get install -y procps"
	need_cmd setsid "package util-linux"
	resolve_java
	take_lock
	local t0=$SECONDS
	if lab_is_healthy; then
		write_env
		log "lab already up and healthy ($LAB_ENV_FILE)"
		cat "$LAB_ENV_FILE"
		return 0
	fi
	if [[ ! -x $LAB_DIR/leader/bin/opensearch || ! -x $LAB_DIR/follower/bin/opensearch ]]; then
		fetch_dist
		fetch_ccr_plugin
	fi
	setup_runas
	install_lab
	launch_node leader
	launch_node follower
	wait_nodes leader follower
	write_env
	configure_remote
	wait_remote_connected "$LAB_TIMEOUT"
	create_sample_index orders-1 orders 2
	create_sample_index orders-2 orders 2
	create_sample_index logs-1 logs 1
	if lab_ccr; then
		setup_replication
	else
		banner "NO CCR PLUGIN in this lab (CCR=0): replication of orders-1/orders-2 and the" \
			"'logs' autofollow rule were NOT set up; _plugins/_replication/* does not exist." \
			"Set DRWATCH_CCR_PLUGIN_ZIP to a local plugin zip, then '$0 down && $0 up'."
	fi
	write_env
	date -u +%Y-%m-%dT%H:%M:%SZ >"$LAB_SETUP_DONE"
	log "lab up in $((SECONDS - t0))s; $LAB_ENV_FILE:"
	cat "$LAB_ENV_FILE"
}

cmd_start_node() {
	local node=${1:-}
	check_node_name "$node"
	validate_config
	need_cmd curl "Debian/Ubuntu: apt-get install -y curl"
	need_cmd python3 "Debian/Ubuntu: apt-get install -y python3 (the lab parses JSON with it)"
	need_cmd pgrep "Debian/Ubuntu: apt-get install -y procps"
	resolve_java
	take_lock
	[[ -x $LAB_DIR/$node/bin/opensearch ]] || die "$node is not installed in $LAB_DIR; run '$0 up' first"
	setup_runas
	launch_node "$node"
	wait_nodes "$node"
	[[ -f $LAB_ENV_FILE ]] && write_env
	if [[ -f $LAB_SETUP_DONE ]] && node_running leader && node_running follower; then
		wait_remote_connected "$LAB_TIMEOUT"
	fi
}

cmd_stop_node() {
	local node=${1:-}
	check_node_name "$node"
	validate_config
	take_lock
	stop_node "$node"
}

# both_nodes FN runs FN leader and FN follower in parallel; it fails if
# either does.
both_nodes() {
	local pl pf rc=0
	"$1" leader &
	pl=$!
	"$1" follower &
	pf=$!
	wait "$pl" || rc=1
	wait "$pf" || rc=1
	return "$rc"
}

cmd_down() {
	validate_config
	take_lock
	both_nodes stop_node || die "could not stop the lab nodes"
	if [[ -d $LAB_DIR ]]; then
		if [[ -f $LAB_MARKER || -z $(ls -A "$LAB_DIR" 2>/dev/null) ]]; then
			rm -rf -- "$LAB_DIR"
			log "removed $LAB_DIR"
		else
			die "$LAB_DIR is not a lab dir (no $LAB_MARKER); not removing it"
		fi
	fi
	log "lab is down"
}

cmd_status() {
	validate_config
	local node pid state up=0 health
	for node in leader follower; do
		pid=$(node_pid "$node")
		state=""
		[[ -n $pid ]] && state=$(proc_state "$pid")
		if [[ -n $pid ]] && http GET "$(node_url "$node")/_cluster/health" "" 5; then
			health=$(json_get status || echo '?')
			printf '%-8s UP    pid=%s url=%s health=%s\n' "$node" "$pid" "$(node_url "$node")" "$health"
			up=$((up + 1))
		elif [[ -n $pid ]]; then
			printf '%-8s HUNG  pid=%s state=%s url=%s (process alive, HTTP not answering)\n' "$node" "$pid" "$state" "$(node_url "$node")"
		else
			printf '%-8s DOWN  url=%s\n' "$node" "$(node_url "$node")"
		fi
	done
	if ((up == 2)); then
		if remote_connected; then
			printf 'remote   %s connected\n' "$LEADER_ALIAS"
		else
			printf 'remote   %s NOT connected\n' "$LEADER_ALIAS"
		fi
	fi
	if [[ -f $LAB_ENV_FILE ]]; then
		printf -- '--- %s\n' "$LAB_ENV_FILE"
		cat "$LAB_ENV_FILE"
	else
		printf 'no %s\n' "$LAB_ENV_FILE"
	fi
	((up == 2))
}

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	fetch) cmd_fetch ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	start-node) cmd_start_node "$@" ;;
	stop-node) cmd_stop_node "$@" ;;
	has-ccr-plugin) [[ -n $(ccr_plugin_zip) ]] ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
