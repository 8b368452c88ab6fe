#!/usr/bin/env bash
# with-services.sh entry point for the postgres test service.
exec "$(dirname "${BASH_SOURCE[0]}")/postgres/start.sh" "$@"
