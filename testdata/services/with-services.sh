#!/usr/bin/env bash
# Usage: with-services.sh [NAME...] -- COMMAND [ARG...]
#
# Starts each named service with start-NAME.sh, exports the variables of its
# .cache/services/NAME.env, runs COMMAND, then stops the services it started
# (in reverse order, also when COMMAND fails or is interrupted) and exits with
# COMMAND's status. See README.md beside this script for the convention.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
envdir="$root/.cache/services"

services=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
	services+=("$1")
	shift
done
if [[ $# -eq 0 ]]; then
	echo "usage: $0 [NAME...] -- COMMAND [ARG...]" >&2
	exit 2
fi
shift # the --
if [[ $# -eq 0 ]]; then
	echo "usage: $0 [NAME...] -- COMMAND [ARG...]" >&2
	exit 2
fi

started=()
stop_all() {
	local i
	for ((i = ${#started[@]} - 1; i >= 0; i--)); do
		"$here/stop-${started[i]}.sh" || echo "with-services: stopping ${started[i]} failed" >&2
	done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$envdir"
for s in "${services[@]+"${services[@]}"}"; do
	if [[ ! -x "$here/start-$s.sh" || ! -x "$here/stop-$s.sh" ]]; then
		echo "with-services: unknown service $s (need executable start-$s.sh and stop-$s.sh in $here)" >&2
		exit 2
	fi
	echo "with-services: starting $s" >&2
	started+=("$s")
	"$here/start-$s.sh"
	if [[ -f "$envdir/$s.env" ]]; then
		set -a
		# shellcheck disable=SC1090
		. "$envdir/$s.env"
		set +a
	fi
done

# Not exec: the EXIT trap must run after the command.
set +e
"$@"
status=$?
set -e
exit "$status"
