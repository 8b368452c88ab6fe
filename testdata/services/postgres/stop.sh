#!/usr/bin/env bash
# Stops the PostgreSQL started by start.sh, by the pid it recorded (never by
# process name), and removes its cluster and env file. Succeeds when nothing
# is running.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
state=$repo/.cache/services/postgres
pidfile=$state/postgres.pid
envfile=$repo/.cache/services/postgres.env

if [[ -s $pidfile ]]; then
	pid=$(<"$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		# SIGINT is PostgreSQL's "fast shutdown": it disconnects the clients.
		kill -INT "$pid" 2>/dev/null || true
		for _ in $(seq 150); do # up to 15 s for a clean exit
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		echo "postgres: stopped (pid $pid)"
	fi
fi
rm -rf "$state/data" "$state/sock"
if [[ -s $state/external ]]; then
	rm -rf "$(<"$state/external")"
	rm -f "$state/external"
fi
rm -f "$pidfile" "$state/port" "$envfile"
