#!/usr/bin/env bash
# Stops the versitygw started by start.sh, by the pid it recorded (never by
# process name), and removes its data directory and env file. Succeeds when
# nothing is running.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
state=$repo/.cache/services/s3
pidfile=$state/versitygw.pid
envfile=$repo/.cache/services/s3.env

if [[ -s $pidfile ]]; then
	pid=$(<"$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do # up to 10 s for a clean exit
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		echo "s3: stopped versitygw (pid $pid)"
	fi
fi
rm -rf "$state/data"
rm -f "$pidfile" "$state/port" "$envfile"
