#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and under ThreadSanitizer, each in its own build folder.
# Usage: Tools/scripts/sanitize.sh [address|thread|all] [test filter] [tests to skip]
# About 10 minutes per sanitizer on 2 cores (the crash-harness suite dominates; pass a filter to
# narrow it). Exit status is non-zero if any test fails or a sanitizer reports anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
Tools/scripts/install-deps.sh redis-tools
which=${1:-all}
filter=${2:-}
skip=${3:-}
run() {
  local sanitizer=$1
  local scratch=.build-$sanitizer
  echo "== $sanitizer sanitizer" >&2
  swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
  # halt_on_error: the first report fails the run; TSan's second_deadlock_stack for readable reports.
  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" ${filter:+--filter "$filter"} ${skip:+--skip "$skip"}
}
case $which in
  address) run address ;;
  thread) run thread ;;
  all) run address; run thread ;;
  *) echo "usage: $0 [address|thread|all] [filter]" >&2; exit 2 ;;
esac
