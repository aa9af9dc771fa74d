#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (no systemd needed).
#
#   bash scripts/postgres.sh start    # install if missing, init, start; prints the URL
#   bash scripts/postgres.sh url      # prints the URL of the running server
#   bash scripts/postgres.sh status   # exit 0 if the server is running
#   bash scripts/postgres.sh stop     # stops the server this script started
#
# `start` prints only the URL on stdout (progress goes to stderr), so
#   export WHARF_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start)
# works. Every command is idempotent: `start` on a running server prints its
# URL, `stop` on a stopped one does nothing.
#
# Knobs:
#   WHARF_PG_DIR    where the cluster lives (default /tmp/wharf-pg): data/,
#                   sock/ (the Unix socket), postgres.log
#   WHARF_PG_PORT   TCP port on 127.0.0.1 (default 55432); when something
#                   else listens there, `start` takes the next free port
#
# The server runs as the `postgres` user when the script runs as root (as
# the current user otherwise), trusts local connections (test machines
# only!) and runs with fsync=off: a crash may lose the cluster, which only
# ever holds test databases.
set -euo pipefail

pg_dir=${WHARF_PG_DIR:-/tmp/wharf-pg}
want_port=${WHARF_PG_PORT:-55432}
data=$pg_dir/data
sock=$pg_dir/sock
log=$pg_dir/postgres.log

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

[[ $want_port =~ ^[0-9]+$ ]] && ((want_port > 0 && want_port < 65536)) || die "bad WHARF_PG_PORT: $want_port"

# as_pg runs a command as the owner of the cluster.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_pgbin() {
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	[[ -n $pgbin && -x $pgbin/pg_ctl ]]
}

install_postgres() {
	find_pgbin && return 0
	((EUID == 0)) || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
	local t0=$SECONDS
	say "installing PostgreSQL (apt)"
	local apt_opts=(-y --no-install-recommends -o DPkg::Lock::Timeout=300)
	# apt-get update only when the package lists are empty or too old to
	# know the package.
	if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
		apt-get update -o DPkg::Lock::Timeout=300 >&2
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" postgresql >&2; then
		apt-get update -o DPkg::Lock::Timeout=300 >&2
		DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" postgresql >&2
	fi
	find_pgbin || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/pg_ctl"
	say "installed PostgreSQL in $((SECONDS - t0))s"
}

running() {
	find_pgbin || return 1
	[[ -f $data/PG_VERSION ]] || return 1
	as_pg "$pgbin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

# port_of_running prints the port of the running server (4th line of
# postmaster.pid).
port_of_running() {
	sed -n 4p "$data/postmaster.pid" 2>/dev/null
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url_of() { printf 'postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable\n' "$1"; }

cmd_url() {
	running || die "not running (bash scripts/postgres.sh start)"
	url_of "$(port_of_running)"
}

cmd_start() {
	install_postgres
	mkdir -p "$pg_dir"
	if ((EUID == 0)); then
		chown postgres: "$pg_dir"
		runuser -u postgres -- test -w "$pg_dir" ||
			die "$pg_dir is not writable by the postgres user (choose WHARF_PG_DIR under /tmp)"
	fi
	# Two starts at once (two test runs) must not both initdb. The lock's
	# descriptor is closed for the server (9>&-), which would hold it forever.
	exec 9>>"$pg_dir/.lock"
	if command -v flock >/dev/null; then
		flock -w 120 9 || die "timed out waiting for $pg_dir/.lock"
	fi

	if running; then
		say "already running ($data)"
		url_of "$(port_of_running)"
		return 0
	fi

	local t0=$SECONDS
	if [[ ! -f $data/PG_VERSION ]]; then
		rm -rf "$data"
		say "initdb $data"
		as_pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 9>&- ||
			{
				cat "$pg_dir/initdb.log" >&2
				die "initdb failed"
			}
	fi
	as_pg mkdir -p "$sock"

	local port=$want_port
	while listening "$port"; do
		((port < want_port + 100)) || die "no free port in $want_port..$port"
		port=$((port + 1))
	done
	((port == want_port)) || say "port $want_port is taken, using $port"

	say "starting PostgreSQL on 127.0.0.1:$port"
	if ! as_pg "$pgbin/pg_ctl" -D "$data" -l "$log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 9>&-; then
		tail -n 30 "$log" >&2 || true
		die "pg_ctl start failed"
	fi
	# pg_ctl -w waited for the server; check the TCP side too, bounded.
	local i
	for ((i = 0; i < 100; i++)); do
		if "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
			say "ready in $((SECONDS - t0))s"
			url_of "$port"
			return 0
		fi
		sleep 0.1
	done
	tail -n 30 "$log" >&2 || true
	die "server started but not accepting connections on 127.0.0.1:$port"
}

cmd_stop() {
	if ! running; then
		say "not running"
		return 0
	fi
	say "stopping ($data)"
	as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
status) running ;;
*)
	echo "usage: $0 start|stop|url|status" >&2
	exit 2
	;;
esac
