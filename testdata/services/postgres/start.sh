#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (Debian's postgresql package) on a loopback
# port, for the PostgreSQL-source tests. Idempotent: when the recorded server
# is still running and answering, it only rewrites the env file.
#
#   bash testdata/services/postgres/start.sh && source .cache/services/postgres.env
#
# Installs the postgresql package (apt-get) when no PostgreSQL server binary
# is found. initdb and postgres run as the `postgres` OS user (PostgreSQL
# refuses to run as root); when the script runs as another non-root user it
# runs them as that user.
#
# Environment:
#   TXLAKE_PG_PORT   port to listen on (default: a free loopback port)
#
# State (all under <repo>/.cache, git-ignored):
#   .cache/services/postgres/data/       the cluster (initdb), recreated on start
#   .cache/services/postgres/postgres.log
#   .cache/services/postgres/postgres.pid
#   .cache/services/postgres.env         export lines for the tests:
#     TXLAKE_TEST_PG_URL   postgres://txlake@127.0.0.1:PORT/txlake (no password)
#     PGPASSWORD           the password of the test role txlake
#     TXLAKE_TEST_PG_ADMIN_URL  a superuser URL (trust auth) for test set-up
set -euo pipefail

# Fixed credentials of the throw-away test server (not secrets).
TEST_ROLE=txlake
TEST_PASSWORD=txlaketestpw
TEST_DB=txlake

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
state=$repo/.cache/services/postgres
data=$state/data
sock=$state/sock
log=$state/postgres.log
pidfile=$state/postgres.pid
portfile=$state/port
envfile=$repo/.cache/services/postgres.env

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_env() {
	local tmp=$envfile.tmp.$$
	cat >"$tmp" <<EOT
export TXLAKE_TEST_PG_URL=postgres://$TEST_ROLE@127.0.0.1:$1/$TEST_DB
export PGPASSWORD=$TEST_PASSWORD
export TXLAKE_TEST_PG_ADMIN_URL=postgres://postgres@127.0.0.1:$1/$TEST_DB
EOT
	mv "$tmp" "$envfile"
}

pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [[ -n $d && -x $d/initdb && -x $d/postgres ]]; then
		echo "$d"
	fi
}

mkdir -p "$state"

if [[ -s $pidfile && -s $portfile ]]; then
	pid=$(<"$pidfile")
	port=$(<"$portfile")
	if kill -0 "$pid" 2>/dev/null && answers "$port"; then
		write_env "$port"
		echo "postgres: already running (pid $pid) on 127.0.0.1:$port"
		exit 0
	fi
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile" "$portfile"
fi

bindir=$(pg_bindir)
if [[ -z $bindir ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "postgres: no PostgreSQL server found under /usr/lib/postgresql; install Debian's postgresql package (apt-get install postgresql)" >&2
		exit 1
	fi
	echo "postgres: installing Debian's postgresql package"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq postgresql >/dev/null
	bindir=$(pg_bindir)
	if [[ -z $bindir ]]; then
		echo "postgres: the postgresql package installed no server under /usr/lib/postgresql" >&2
		exit 1
	fi
fi

# as_pg CMD...: run a server binary as the postgres OS user when we are root.
if [[ $(id -u) -eq 0 ]]; then
	owner=postgres
	if ! id "$owner" >/dev/null 2>&1; then
		echo "postgres: running as root but there is no 'postgres' OS user to run the server as" >&2
		exit 1
	fi
	as_pg() { (cd / && runuser -u "$owner" -- "$@"); } # cd: the repo may be closed to it
else
	owner=$(id -un)
	as_pg() { "$@"; }
fi

if [[ -n ${TXLAKE_PG_PORT:-} ]]; then
	port=$TXLAKE_PG_PORT
	if answers "$port"; then
		echo "postgres: port $port (TXLAKE_PG_PORT) is already in use" >&2
		exit 1
	fi
else
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

# A cluster left in /tmp by an earlier start (see below).
if [[ -s $state/external ]]; then
	rm -rf "$(<"$state/external")"
	rm -f "$state/external"
fi
rm -rf "$data" "$sock"
: >"$log"
if [[ $owner == postgres ]] && ! runuser -u postgres -- test -x "$state" 2>/dev/null; then
	# The repository is below a directory the postgres user cannot enter
	# (e.g. /root). The cluster and its socket then live in a private
	# directory under /tmp, named in .cache/services/postgres/external and
	# removed by stop.sh; the log and pid stay here.
	ext=$(mktemp -d /tmp/txlake-postgres.XXXXXX)
	echo "$ext" >"$state/external"
	data=$ext/data
	sock=$ext/sock
	chown "$owner" "$ext"
	echo "postgres: $state is not reachable by the postgres user; the cluster lives in $ext"
fi
mkdir -p "$data" "$sock"
chown "$owner" "$data" "$sock"
chmod 700 "$data"

# Local superuser connections (set-up by the tests) trust; the test role
# authenticates with its password (scram-sha-256), so that a wrong password
# really fails.
as_pg "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	-E UTF8 --locale=C.UTF-8 --no-instructions >>"$log" 2>&1 || {
	echo "postgres: initdb failed; log $log:" >&2
	cat "$log" >&2
	exit 1
}
cat >"$data/pg_hba.conf" <<EOT
# TYPE  DATABASE USER     ADDRESS        METHOD
local   all      all                     trust
host    all      postgres 127.0.0.1/32   trust
host    all      all      127.0.0.1/32   scram-sha-256
EOT
chown "$owner" "$data/pg_hba.conf"

as_pg nohup "$bindir/postgres" -D "$data" -p "$port" -c listen_addresses=127.0.0.1 \
	-c unix_socket_directories="$sock" -c fsync=off -c full_page_writes=off \
	-c synchronous_commit=off -c shared_buffers=64MB -c max_connections=50 \
	>>"$log" 2>&1 </dev/null &
pid=$! # runuser's pid until the postmaster has written its own
echo "$pid" >"$pidfile"
echo "$port" >"$portfile"

deadline=$((SECONDS + 60))
until answers "$port" && as_pg "$bindir/pg_isready" -q -h "$sock" -p "$port"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "postgres: server exited during start-up; log $log:" >&2
		cat "$log" >&2
		rm -f "$pidfile" "$portfile"
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "postgres: server did not answer on 127.0.0.1:$port within 60 s; log $log:" >&2
		cat "$log" >&2
		kill "$pid" 2>/dev/null || true
		rm -f "$pidfile" "$portfile"
		exit 1
	fi
	sleep 0.2
done
# The postmaster's own pid (the first line of postmaster.pid), so that
# stop.sh signals the server and not runuser.
pid=$(head -1 "$data/postmaster.pid")
echo "$pid" >"$pidfile"

# The test role and database. The password goes through stdin, not argv.
as_pg "$bindir/psql" -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres >>"$log" 2>&1 <<EOT || { echo "postgres: creating the test role failed; log $log" >&2; cat "$log" >&2; exit 1; }
CREATE ROLE $TEST_ROLE LOGIN PASSWORD '$TEST_PASSWORD';
CREATE DATABASE $TEST_DB OWNER $TEST_ROLE;
EOT

write_env "$port"
echo "postgres: $("$bindir/postgres" --version) (pid $pid) on 127.0.0.1:$port; env in $envfile"
