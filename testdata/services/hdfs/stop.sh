#!/usr/bin/env bash
# Stops the MiniDFSCluster that start.sh started, by the pid it recorded (never
# by process name), and removes its data, configuration and env file. Succeeds
# when nothing is running. The cached classpath and the log are kept.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
state="$root/.cache/services/hdfs"
pidfile="$state/minihdfs.pid"

if [[ -f "$pidfile" ]]; then
	pid="$(cat "$pidfile")"
	# Only a process that is still our launcher (a pid can be reused).
	if kill -0 "$pid" 2>/dev/null && grep -q MiniHdfs "/proc/$pid/cmdline" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 150); do # up to 30 s for the shutdown hook
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "hdfs: pid $pid did not stop after SIGTERM; sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		echo "hdfs: stopped (pid $pid)" >&2
	fi
	rm -f "$pidfile"
fi
rm -rf "$state/data" "$state/conf"
rm -f "$root/.cache/services/hdfs.env"
