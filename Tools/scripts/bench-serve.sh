#!/usr/bin/env bash
# redis-benchmark against `sealkv serve` and against redis-server (appendonly yes, appendfsync
# always), in one run, three rounds each. Usage: Tools/scripts/bench-serve.sh [requests] [clients]
set -euo pipefail
cd "$(dirname "$0")/../.."
Tools/scripts/install-deps.sh redis-tools redis-server
requests=${1:-100000}
clients=${2:-50}
swift build -c release --product sealkv >/dev/null
work=$(mktemp -d)
trap 'kill $sealkv_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT
export SEALKV_PASSWORD=bench
.build/release/sealkv init "$work/bench.sealkv" >/dev/null
.build/release/sealkv serve "$work/bench.sealkv" --listen 127.0.0.1:6390 2>/dev/null & sealkv_pid=$!
mkdir "$work/redis"
redis-server --port 6391 --appendonly yes --appendfsync always --save '' --dir "$work/redis" >/dev/null & redis_pid=$!
for port in 6390 6391; do until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.1; done; done
echo "redis-benchmark -t set,get -n $requests -c $clients, requests per second ($(nproc) cores)"
for round in 1 2 3; do
  for target in "sealkv 6390" "redis-server 6391"; do
    set -- $target
    redis-benchmark -p "$2" -t set,get -n "$requests" -c "$clients" -q 2>/dev/null | tr '\r' '\n' \
      | awk -v who="$1" -v r="$round" '/requests per second/ { printf "round %s  %-13s %-4s %s\n", r, who, $1, $2 }'
  done
done
redis-cli -p 6390 info persistence | grep -E "group_commits|writes_per_commit" | tr -d '\r'
