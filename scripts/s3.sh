#!/usr/bin/env bash
# Runs a local S3 server (versitygw, posix backend) for the tests of the S3
# blob store (internal/store/blob/s3).
#
#   scripts/s3.sh start   installs versitygw if missing, starts it, waits until it answers
#   scripts/s3.sh env     prints the export line the tests read (eval "$(scripts/s3.sh env)"):
#                         WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _VIRTUAL_DOMAIN
#   scripts/s3.sh stop    stops the server this script started (by its pid file) and removes its data
#   scripts/s3.sh status  exits 0 if that server is running
#
# Knobs: WHARF_S3_PORT (default 57070; the server listens on 127.0.0.1 only),
# WHARF_TOOLS_DIR (where versitygw is installed, default $HOME/.cache/wharf-tools,
# shared with scripts/install-tools.sh and its stamp file), WHARF_S3_STATE_DIR
# (pid file, log and data, default ${TMPDIR:-/tmp}/wharf-s3-<port>).
# The root credentials are fixed test values: the server is for tests only.
set -euo pipefail

VERSITYGW_PKG=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_VERSION=v1.8.0

port=${WHARF_S3_PORT:-57070}
tools_dir=${WHARF_TOOLS_DIR:-$HOME/.cache/wharf-tools}
state_dir=${WHARF_S3_STATE_DIR:-${TMPDIR:-/tmp}/wharf-s3-$port}
access_key=wharf-test-access-key
secret_key=wharf-test-secret-key
endpoint=http://127.0.0.1:$port
# Virtual-hosted requests (Host: <bucket>.<domain>) are accepted too; a
# client reaches them by dialing 127.0.0.1 for that host name.
virtual_domain=s3.wharf.test
pid_file=$state_dir/versitygw.pid
log_file=$state_dir/versitygw.log
data_dir=$state_dir/data

log() { printf 's3.sh: %s\n' "$*" >&2; }

# install: the same stamp scheme as scripts/install-tools.sh (<tool>.stamp
# holding module@version), so either script reuses what the other built.
install() {
	local bin=$tools_dir/versitygw key="$VERSITYGW_PKG@$VERSITYGW_VERSION" mod t0 tmp
	mkdir -p "$tools_dir"
	if [[ -x $bin && -f $bin.stamp && "$(cat "$bin.stamp")" == "$key" ]]; then
		return
	fi
	if [[ -x $bin && ! -f $bin.stamp ]]; then
		mod=$(go version -m "$bin" 2>/dev/null | awk '$1 == "path" { p = $2 } $1 == "mod" { print p " " $3 }')
		if [[ "$mod" == "$VERSITYGW_PKG $VERSITYGW_VERSION" ]]; then
			printf '%s\n' "$key" >"$bin.stamp"
			return
		fi
	fi
	command -v go >/dev/null 2>&1 || {
		log "versitygw is not installed and go is not on PATH"
		return 1
	}
	t0=$(date +%s)
	log "installing versitygw $VERSITYGW_VERSION into $tools_dir (a few minutes when cold)"
	tmp=$(mktemp -d "$tools_dir/.gobin.XXXXXX")
	if ! GOWORK=off GOFLAGS=-buildvcs=false GOBIN="$tmp" \
		go install -trimpath -ldflags='-s -w' "$key" >&2; then
		rm -rf "$tmp"
		return 1
	fi
	mv -f "$tmp/versitygw" "$bin"
	rm -rf "$tmp"
	printf '%s\n' "$key" >"$bin.stamp.tmp"
	mv -f "$bin.stamp.tmp" "$bin.stamp"
	log "versitygw installed in $(($(date +%s) - t0))s"
}

# running: the pid from the pid file, if that process is alive and is versitygw.
running() {
	local pid
	[[ -f $pid_file ]] || return 1
	pid=$(cat "$pid_file")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q versitygw || return 1
	printf '%s\n' "$pid"
}

ready() {
	# Any HTTP answer (an unsigned request gets 403) means the server is serving.
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$endpoint/" 2>/dev/null) || true
	[[ $code =~ ^[1-5][0-9][0-9]$ ]]
}

start() {
	local pid i
	if pid=$(running); then
		log "versitygw already running (pid $pid) on $endpoint"
		return
	fi
	install
	if ready; then
		log "127.0.0.1:$port is already in use by another process; set WHARF_S3_PORT"
		return 1
	fi
	mkdir -p "$state_dir"
	rm -rf "$data_dir"
	mkdir -p "$data_dir"
	ROOT_ACCESS_KEY=$access_key ROOT_SECRET_KEY=$secret_key \
		setsid "$tools_dir/versitygw" --port "127.0.0.1:$port" --quiet --keep-alive \
		--virtual-domain "$virtual_domain" posix "$data_dir" >"$log_file" 2>&1 </dev/null &
	pid=$!
	printf '%s\n' "$pid" >"$pid_file"
	# Bounded wait: it is ready in well under a second.
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "versitygw exited during startup; its log ($log_file):"
			cat "$log_file" >&2
			rm -f "$pid_file"
			return 1
		fi
		if ready; then
			log "versitygw $VERSITYGW_VERSION running (pid $pid) on $endpoint, data in $data_dir"
			return
		fi
		sleep 0.1
	done
	log "versitygw did not answer within 10s; stopping it. Log ($log_file):"
	cat "$log_file" >&2
	stop
	return 1
}

stop() {
	local pid i
	if ! pid=$(running); then
		rm -f "$pid_file"
		rm -rf "$data_dir"
		log "versitygw not running"
		return
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pid_file"
	rm -rf "$data_dir"
	log "versitygw (pid $pid) stopped"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status)
	if pid=$(running); then
		log "versitygw running (pid $pid) on $endpoint"
	else
		log "versitygw not running"
		exit 1
	fi
	;;
env)
	printf 'export WHARF_TEST_S3_ENDPOINT=%s WHARF_TEST_S3_ACCESS_KEY=%s WHARF_TEST_S3_SECRET_KEY=%s WHARF_TEST_S3_VIRTUAL_DOMAIN=%s\n' \
		"$endpoint" "$access_key" "$secret_key" "$virtual_domain"
	;;
*)
	echo "usage: $0 start|stop|status|env" >&2
	exit 2
	;;
esac
