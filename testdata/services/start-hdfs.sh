#!/usr/bin/env bash
# with-services.sh entry point for the hdfs test service.
exec "$(dirname "${BASH_SOURCE[0]}")/hdfs/start.sh" "$@"
