#!/usr/bin/env bash
# Compare Wharf with the CNCF distribution registry using cmd/wharf-bench.
#
#   scripts/bench.sh                      # full run, 3 interleaved rounds
#   QUICK=1 scripts/bench.sh              # smoke run: small sizes, short loops
#   ONLY=distribution QUICK=1 scripts/bench.sh
#
# Environment:
#   ROUNDS=N        rounds per scenario and registry (default 3, QUICK: 1)
#   QUICK=1         shrink sizes and durations
#   ONLY=NAME       run one registry only: wharf or distribution
#   SCENARIOS="..." subset of: blob-push-mono blob-push-16MiB blob-pull blob-pull-verify
#                   manifest-get pull-storm small-push tags-list
#   RESULTS=FILE    where to keep the JSON lines (default /tmp/wharf-bench-results-<time>.jsonl)
#   REGISTRY_BIN    distribution binary (default ~/.cache/wharf-tools/registry, installed if missing)
#   KEEP=1          keep the temporary directory (logs, configs)
#   SERVER_CPUS=L   pin the registry to these CPUs (taskset -c L), e.g. 0
#   CLIENT_CPUS=L   pin wharf-bench to these CPUs, e.g. 1 (default: no pinning;
#                   on a small host client and server then share every core)
#                   blob-pull measures the registry with a client that does not
#                   hash; blob-pull-verify hashes like docker does, which caps
#                   both registries at the client's sha256 speed (informational)
#   STORAGE=s3      both registries keep blobs in S3: a local versitygw
#                   (scripts/s3.sh, own port and state under the temporary
#                   directory), a fresh bucket per run; Wharf with --blobs
#                   s3://... (metadata in embedded SQLite), distribution with
#                   its s3 storage driver. Default scenarios then: blob-push-mono
#                   blob-push-16MiB blob-pull manifest-get. Needs the aws CLI.
#   BLOB_REDIRECT=1 with STORAGE=s3: blob GETs redirect to presigned URLs on
#                   both registries (Wharf --blob-redirect; distribution's
#                   default). Default 0: both stream blobs through the server.
#
# Every (scenario, round, registry) runs against a freshly started server
# with a fresh data directory, in the order wharf, distribution, wharf,
# distribution, ... Each run has a setup phase (wharf-bench --setup-only)
# and a measured phase. For pull-storm the server's peak RSS is its VmHWM
# after the peak was reset (/proc/PID/clear_refs) between the two phases,
# or, if the reset is not allowed, the highest VmRSS sampled every 50ms.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then ROUNDS=${ROUNDS:-1}; else ROUNDS=${ROUNDS:-3}; fi
ONLY=${ONLY:-}
STORAGE=${STORAGE:-fs}
BLOB_REDIRECT=${BLOB_REDIRECT:-0}
case $STORAGE in
fs) SCENARIOS=${SCENARIOS:-"blob-push-mono blob-push-16MiB blob-pull blob-pull-verify manifest-get pull-storm small-push tags-list"} ;;
s3) SCENARIOS=${SCENARIOS:-"blob-push-mono blob-push-16MiB blob-pull manifest-get"} ;;
*)
	echo "STORAGE must be fs or s3" >&2
	exit 2
	;;
esac
TOOLS=${WHARF_TOOLS:-$HOME/.cache/wharf-tools}
DIST_VERSION=v3.1.2
REGISTRY_BIN=${REGISTRY_BIN:-$TOOLS/registry}
KEEP=${KEEP:-0}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}
SERVER_PIN=()
CLIENT_PIN=()
if [[ -n $SERVER_CPUS ]]; then SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi
if [[ -n $CLIENT_CPUS ]]; then CLIENT_PIN=(taskset -c "$CLIENT_CPUS"); fi
RESULTS=${RESULTS:-/tmp/wharf-bench-results-$(date +%Y%m%d-%H%M%S).jsonl}

# Wharf credentials (the admin key pair the server is started with).
WHARF_ACCOUNT_ID=123456789012
WHARF_KEY_ID=AKIABENCH
WHARF_SECRET=benchsecret

if [[ $QUICK == 1 ]]; then
	BLOBS=2 BLOB_SIZE=32MiB DUR=2s STORM_CLIENTS=40 STORM_SIZE=10MiB TAGS=1000
else
	BLOBS=4 BLOB_SIZE=256MiB DUR=10s STORM_CLIENTS=200 STORM_SIZE=50MiB TAGS=10000
fi

case $ONLY in
"") REGS=(wharf distribution) ;;
wharf | distribution) REGS=("$ONLY") ;;
*)
	echo "ONLY must be wharf or distribution" >&2
	exit 2
	;;
esac
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
	echo "ROUNDS must be a positive integer" >&2
	exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wharf-bench.XXXXXX")
SERVER_PID=""
SAMPLER_PID=""
S3_STARTED=0
BUCKET=""
S3_PORT="" S3_ENDPOINT="" S3_ACCESS_KEY="" S3_SECRET_KEY=""

log() { printf '[bench] %s\n' "$*" >&2; }

stop_pid() { # stop_pid PID: TERM, then KILL after 10s; reap it.
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$SAMPLER_PID"
	stop_pid "$SERVER_PID"
	if [[ $S3_STARTED == 1 ]]; then
		WHARF_S3_PORT=$S3_PORT WHARF_S3_STATE_DIR=$TMP/s3 bash "$ROOT/scripts/s3.sh" stop >&2 || true
	fi
	if [[ $KEEP == 1 ]]; then
		log "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -----------------------------------------------------------------

cd "$ROOT"
log "building wharf-bench"
go build -o "$TMP/wharf-bench" ./cmd/wharf-bench
BENCH=$TMP/wharf-bench

if [[ " ${REGS[*]} " == *" distribution "* && ! -x $REGISTRY_BIN ]]; then
	log "installing distribution $DIST_VERSION into $TOOLS (takes a few minutes the first time)"
	mkdir -p "$TOOLS"
	GOBIN=$TOOLS go install "github.com/distribution/distribution/v3/cmd/registry@$DIST_VERSION"
	REGISTRY_BIN=$TOOLS/registry
fi
if [[ " ${REGS[*]} " == *" wharf "* ]]; then
	log "building wharf"
	if ! go build -o "$TMP/wharf" ./cmd/wharf; then
		log "cmd/wharf does not build; run with ONLY=distribution to benchmark distribution alone"
		exit 1
	fi
fi

mkdir -p "$TMP/logs"
: >"$RESULTS"

# --- S3 (STORAGE=s3) -------------------------------------------------------

if [[ $STORAGE == s3 ]]; then
	command -v aws >/dev/null 2>&1 || {
		log "STORAGE=s3 needs the aws CLI (bucket per run)"
		exit 1
	}
	S3_PORT=$("$BENCH" freeport)
	log "starting versitygw on port $S3_PORT"
	WHARF_S3_PORT=$S3_PORT WHARF_S3_STATE_DIR=$TMP/s3 bash scripts/s3.sh start >&2
	S3_STARTED=1
	eval "$(WHARF_S3_PORT=$S3_PORT WHARF_S3_STATE_DIR=$TMP/s3 bash scripts/s3.sh env)"
	S3_ENDPOINT=$WHARF_TEST_S3_ENDPOINT
	S3_ACCESS_KEY=$WHARF_TEST_S3_ACCESS_KEY
	S3_SECRET_KEY=$WHARF_TEST_S3_SECRET_KEY
fi

s3api() { # s3api ARGS...: the aws CLI against the bench's versitygw
	AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
		aws --endpoint-url "$S3_ENDPOINT" "$@"
}

# new_bucket TAG: create a fresh bucket, named in BUCKET.
new_bucket() {
	BUCKET=wharf-bench-$(echo "$1" | tr -c 'a-z0-9\n' '-' | cut -c1-30)-$RANDOM$RANDOM
	s3api s3api create-bucket --bucket "$BUCKET" >/dev/null
}

drop_bucket() {
	[[ -n $BUCKET ]] || return 0
	s3api s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || log "could not remove bucket $BUCKET"
	BUCKET=""
}

# --- servers ---------------------------------------------------------------

# start_server NAME TAG: start a fresh server; sets SERVER_PID, SERVER_URL,
# SERVER_DATA, SERVER_LOG and the credentials of wharf-bench.
start_server() {
	local name=$1 tag=$2 port
	port=$("$BENCH" freeport)
	SERVER_URL=http://127.0.0.1:$port
	SERVER_DATA=$TMP/data-$name-$tag
	SERVER_LOG=$TMP/logs/$name-$tag.log
	rm -rf "$SERVER_DATA"
	mkdir -p "$SERVER_DATA"
	if [[ $STORAGE == s3 ]]; then new_bucket "$name-$tag"; fi
	case $name in
	wharf)
		local s3args=()
		if [[ $STORAGE == s3 ]]; then
			s3args=(--blobs "s3://$BUCKET/?endpoint=$S3_ENDPOINT&region=us-east-1&path_style=true")
			if [[ $BLOB_REDIRECT == 1 ]]; then s3args+=(--blob-redirect); fi
		fi
		AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
			WHARF_ACCOUNT_ID=$WHARF_ACCOUNT_ID \
			WHARF_ADMIN_ACCESS_KEY_ID=$WHARF_KEY_ID \
			WHARF_ADMIN_SECRET_ACCESS_KEY=$WHARF_SECRET \
			"${SERVER_PIN[@]}" "$TMP/wharf" serve --listen "127.0.0.1:$port" --data "$SERVER_DATA" --access-log=false "${s3args[@]}" >"$SERVER_LOG" 2>&1 &
		SERVER_PID=$!
		BENCH_USER=$WHARF_KEY_ID BENCH_PASSWORD=$WHARF_SECRET
		READY_URL=$SERVER_URL/readyz
		;;
	distribution)
		local storage="  filesystem:
    rootdirectory: $SERVER_DATA"
		if [[ $STORAGE == s3 ]]; then
			storage="  s3:
    accesskey: $S3_ACCESS_KEY
    secretkey: $S3_SECRET_KEY
    region: us-east-1
    regionendpoint: $S3_ENDPOINT
    forcepathstyle: true
    bucket: $BUCKET
    secure: false
    v4auth: true
    rootdirectory: /
  redirect:
    disable: $([[ $BLOB_REDIRECT == 1 ]] && echo false || echo true)"
		fi
		cat >"$TMP/distribution-$tag.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
$storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: wharf-bench
EOF
		# No OTLP collector here: without this the exporter retries and logs
		# an error for every batch of spans.
		OTEL_TRACES_EXPORTER=none "${SERVER_PIN[@]}" "$REGISTRY_BIN" serve "$TMP/distribution-$tag.yml" >"$SERVER_LOG" 2>&1 &
		SERVER_PID=$!
		BENCH_USER="" BENCH_PASSWORD=""
		READY_URL=$SERVER_URL/v2/
		;;
	esac
	if ! "$BENCH" wait --url "$READY_URL" --pid "$SERVER_PID" --timeout 60s; then
		log "$name did not become ready; last log lines:"
		tail -n 20 "$SERVER_LOG" >&2 || true
		return 1
	fi
}

stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=""
	rm -rf "$SERVER_DATA"
	if [[ $STORAGE == s3 ]]; then drop_bucket; fi
	# Flush dirty pages now, so that the writeback of one run does not slow
	# down the next one (of the other registry).
	sync
}

rss_kib() { # rss_kib PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

start_sampler() { # highest VmRSS of PID, in KiB, written to FILE
	local pid=$1 file=$2
	(
		max=0
		while kill -0 "$pid" 2>/dev/null; do
			v=$(rss_kib "$pid" VmRSS)
			if [[ -n $v ]] && ((v > max)); then
				max=$v
				echo "$max" >"$file"
			fi
			sleep 0.05
		done
	) &
	SAMPLER_PID=$!
}

# proc_cpu_ticks PID: user+system CPU of PID in clock ticks (empty if gone).
proc_cpu_ticks() {
	# Fields after the ")" of the command name: utime is the 12th, stime the 13th.
	sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# --- scenarios -------------------------------------------------------------

scenario_args() {
	case $1 in
	blob-push-mono) echo "--scenario blob-push --chunk 0 --blobs $BLOBS --size $BLOB_SIZE" ;;
	blob-push-16MiB) echo "--scenario blob-push --chunk 16MiB --blobs $BLOBS --size $BLOB_SIZE" ;;
	blob-pull) echo "--scenario blob-pull --blobs $BLOBS --size $BLOB_SIZE --verify false" ;;
	blob-pull-verify) echo "--scenario blob-pull --blobs $BLOBS --size $BLOB_SIZE --verify true" ;;
	manifest-get) echo "--scenario manifest-get --concurrency 64 --duration $DUR" ;;
	pull-storm) echo "--scenario pull-storm --concurrency $STORM_CLIENTS --image-size $STORM_SIZE --layers 5" ;;
	small-push) echo "--scenario small-push --concurrency 16 --duration $DUR" ;;
	tags-list) echo "--scenario tags-list --concurrency 16 --tags $TAGS --duration $DUR" ;;
	*)
		echo "unknown scenario $1" >&2
		return 1
		;;
	esac
}

FAILED=0

# run_one CASE ROUND NAME
run_one() {
	local case=$1 round=$2 name=$3 args peak="" hwm_reset=0 rssfile
	args=$(scenario_args "$case")
	if ! start_server "$name" "$case-$round"; then
		FAILED=$((FAILED + 1))
		stop_server
		return 0
	fi
	local common=(--url "$SERVER_URL" --case "$case" --label "$name" --round "$round")
	# shellcheck disable=SC2086 # args is a list of flags
	if ! WHARF_BENCH_USER=$BENCH_USER WHARF_BENCH_PASSWORD=$BENCH_PASSWORD \
		"$BENCH" "${common[@]}" $args --setup-only >/dev/null 2>"$TMP/setup.err"; then
		log "$case round $round on $name: setup failed:"
		cat "$TMP/setup.err" >&2
		tail -n 20 "$SERVER_LOG" >&2 || true
		FAILED=$((FAILED + 1))
		stop_server
		return 0
	fi
	if [[ $case == pull-storm ]]; then
		# Reset the peak RSS so that it covers the storm only.
		if echo 5 2>/dev/null >"/proc/$SERVER_PID/clear_refs"; then hwm_reset=1; fi
		rssfile=$TMP/rss-$name-$round
		echo 0 >"$rssfile"
		start_sampler "$SERVER_PID" "$rssfile"
	fi
	local rc=0 cpu0 cpu1
	cpu0=$(proc_cpu_ticks "$SERVER_PID")
	# shellcheck disable=SC2086
	WHARF_BENCH_USER=$BENCH_USER WHARF_BENCH_PASSWORD=$BENCH_PASSWORD \
		"${CLIENT_PIN[@]}" "$BENCH" "${common[@]}" $args >>"$RESULTS" || rc=$?
	cpu1=$(proc_cpu_ticks "$SERVER_PID")
	if [[ -n $cpu0 && -n $cpu1 ]]; then
		printf '{"scenario":"%s","case":"%s","label":"%s","round":%d,"metrics":{"server_cpu_s":%s},"ops":0,"errors":0}\n' \
			"$case" "$case" "$name" "$round" "$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }')" >>"$RESULTS"
	fi
	if [[ $case == pull-storm ]]; then
		if [[ $hwm_reset == 1 ]]; then peak=$(rss_kib "$SERVER_PID" VmHWM); fi
		stop_pid "$SAMPLER_PID"
		SAMPLER_PID=""
		local sampled
		sampled=$(cat "$rssfile")
		if [[ -z $peak ]] || ((sampled > peak)); then peak=$sampled; fi
		if ((peak > 0)); then
			local mib
			mib=$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')
			printf '{"scenario":"pull-storm","case":"%s","label":"%s","round":%d,"metrics":{"peak_rss_mib":%s},"ops":0,"errors":0}\n' \
				"$case" "$name" "$round" "$mib" >>"$RESULTS"
			log "[$name] pull-storm: server peak RSS $mib MiB ($([[ $hwm_reset == 1 ]] && echo VmHWM || echo sampled VmRSS))"
		fi
	fi
	if ((rc != 0)); then
		log "$case round $round on $name failed (exit $rc); last server log lines:"
		tail -n 20 "$SERVER_LOG" >&2 || true
		FAILED=$((FAILED + 1))
	fi
	stop_server
}

log "registries: ${REGS[*]}; rounds: $ROUNDS; quick: $QUICK; storage: $STORAGE$([[ $STORAGE == s3 ]] && echo ", blob redirect: $BLOB_REDIRECT")"
log "note: distribution runs WITHOUT auth: its htpasswd (bcrypt) path collapses to ~12 req/s,"
log "      which would make the comparison meaningless. Wharf runs WITH auth (HTTP Basic)."
log "note: distribution runs with its stock inmemory blob descriptor cache and OTEL_TRACES_EXPORTER=none."
log "note: blob-pull-verify hashes what it downloads; the client's sha256 caps that figure on both registries."
log "results: $RESULTS"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > 0.25 * n) }'; then
	log "warning: load average is $load on $(nproc) CPUs before starting; other work on this host will skew the figures"
fi

for case in $SCENARIOS; do
	scenario_args "$case" >/dev/null
	for ((round = 1; round <= ROUNDS; round++)); do
		for name in "${REGS[@]}"; do
			run_one "$case" "$round" "$name"
		done
	done
done

echo
echo "Wharf vs distribution $DIST_VERSION: medians of $ROUNDS round(s)$([[ $QUICK == 1 ]] && echo ', QUICK sizes'); storage $STORAGE$([[ $STORAGE == s3 ]] && echo " (versitygw, blob redirect $BLOB_REDIRECT)")"
echo "(distribution without auth, Wharf with HTTP Basic auth; both without per-request access logs; ratio = wharf / distribution)"
"$BENCH" compare --a wharf --b distribution "$RESULTS"
echo
echo "raw results: $RESULTS (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
if ((FAILED > 0)); then
	log "$FAILED run(s) failed"
	exit 1
fi
