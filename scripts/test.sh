#!/usr/bin/env bash
# The tests: install, build, run every suite registered with ctest (unit checks, claim
# verifications, renderer smoke test). Reports land in build/verify-reports/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" "$root/build"
cd "$root/build"
exec ctest --output-on-failure --timeout 1200 "$@"
