#!/usr/bin/env bash
# with-services.sh entry point for the s3 test service.
exec "$(dirname "${BASH_SOURCE[0]}")/s3/stop.sh" "$@"
