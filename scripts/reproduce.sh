#!/usr/bin/env bash
# The main job: install, build, run the full reproduction on the built-in default
# configuration. Extra arguments go to `hmi reproduce` (e.g. --quick, --full, --out DIR).
# An interrupted run resumes where it stopped when the same command is run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/hmi" reproduce "$@"
