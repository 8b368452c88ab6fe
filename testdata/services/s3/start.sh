#!/usr/bin/env bash
# Starts versitygw (a real S3 gateway) with its posix backend on a loopback
# port, for the storage/s3 tests. Idempotent: when the recorded gateway is
# still running and answering, it only rewrites the env file.
#
#   bash testdata/services/s3/start.sh && source .cache/services/s3.env
#
# Environment:
#   TXLAKE_S3_PORT   port to listen on (default: a free loopback port)
#
# State (all under <repo>/.cache, git-ignored):
#   .cache/bin/versitygw            the gateway binary (installed if missing)
#   .cache/services/s3/data/        bucket directories (posix backend root)
#   .cache/services/s3/versitygw.log
#   .cache/services/s3/versitygw.pid
#   .cache/services/s3.env          export lines for the tests
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
# Fixed credentials of the throw-away test gateway (not secrets).
ACCESS_KEY=txlaketest
SECRET_KEY=txlaketestsecret
REGION=us-east-1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
bin_dir=$repo/.cache/bin
state=$repo/.cache/services/s3
data=$state/data
log=$state/versitygw.log
pidfile=$state/versitygw.pid
portfile=$state/port
envfile=$repo/.cache/services/s3.env
gw=$bin_dir/versitygw

# answers PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_env() {
	local tmp=$envfile.tmp.$$
	cat >"$tmp" <<EOT
export TXLAKE_TEST_S3_ENDPOINT=http://127.0.0.1:$1
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
EOT
	mv "$tmp" "$envfile"
}

mkdir -p "$bin_dir" "$state"

# Already running (started by an earlier call)?
if [[ -s $pidfile && -s $portfile ]]; then
	pid=$(<"$pidfile")
	port=$(<"$portfile")
	if kill -0 "$pid" 2>/dev/null && answers "$port"; then
		write_env "$port"
		echo "s3: versitygw already running (pid $pid) on 127.0.0.1:$port"
		exit 0
	fi
	# Stale state from a gateway that died: clean it up.
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile" "$portfile"
fi

# The binary's embedded module version (versitygw --version says "git" for a
# go-install build).
if [[ ! -x $gw ]] || ! go version -m "$gw" 2>/dev/null |
	grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$VERSITYGW_VERSION[[:space:]]"; then
	echo "s3: installing versitygw $VERSITYGW_VERSION into $bin_dir (first run builds it, a few minutes)"
	GOBIN=$bin_dir go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

if [[ -n ${TXLAKE_S3_PORT:-} ]]; then
	port=$TXLAKE_S3_PORT
	if answers "$port"; then
		echo "s3: port $port (TXLAKE_S3_PORT) is already in use" >&2
		exit 1
	fi
else
	# A free loopback port: bind port 0 and read what the kernel picked.
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

rm -rf "$data"
mkdir -p "$data"
: >"$log"

# Global options come before the backend sub-command; the posix backend takes
# its root directory as the argument. Credentials go through the environment
# (ROOT_ACCESS_KEY_ID / ROOT_SECRET_ACCESS_KEY) so they are not on the command
# line.
ROOT_ACCESS_KEY_ID=$ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$SECRET_KEY \
	nohup "$gw" \
	--port "127.0.0.1:$port" \
	--region "$REGION" \
	--quiet \
	posix "$data" >>"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"
echo "$port" >"$portfile"

deadline=$((SECONDS + 60))
until answers "$port"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "s3: versitygw exited during start-up; log $log:" >&2
		cat "$log" >&2
		rm -f "$pidfile" "$portfile"
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "s3: versitygw did not answer on 127.0.0.1:$port within 60 s; log $log:" >&2
		cat "$log" >&2
		kill "$pid" 2>/dev/null || true
		rm -f "$pidfile" "$portfile"
		exit 1
	fi
	sleep 0.2
done

write_env "$port"
echo "s3: versitygw $VERSITYGW_VERSION (pid $pid) serving $data on http://127.0.0.1:$port; env in $envfile"
