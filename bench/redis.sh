#!/usr/bin/env bash
# bench/redis.sh - weft's Redis-protocol example server (examples/redis)
# against redis-server itself, both on loopback, measured by
# redis-benchmark:
#
#   bench/redis.sh [-n REQUESTS] [--rounds K] [--weft BIN] [--workers N]
#
# Each round runs, for each server (alternating, weft first), `redis-
# benchmark -t ping_inline,ping_mbulk,set,get -c 64 -n REQUESTS -q` and
# the same with -P 16 (pipelining), each server started fresh:
# `weft-redis --port P --max-seconds 600` and `redis-server --save ""
# --appendonly no --port P`. Reported per test: requests/s (redis-
# benchmark's figure), and per run: the server's CPU time per request
# (utime + stime, bench/proc.sh, read before and after the run,
# divided by all the requests of the four tests). Defaults: -n 400000,
# 1 round, BIN build-release/examples/weft-redis (else build/...). On a
# 2-core host the load generator shares the server's CPUs: requests/s is
# bound by it, the CPU per request is the server's own cost.
# Prints JSON lines:
#   {"server":"weft","pipeline":16,"test":"GET","metric":"requests_per_sec","value":..}
#   {"server":"weft","pipeline":16,"metric":"server_cpu_us_per_req","value":..}
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/proc.sh
. "$here/proc.sh"
n=400000 rounds=1 weft="" workers=""
while (($#)); do
  case "$1" in
    -n) n=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --weft) weft=$2; shift ;;
    --workers) workers=$2; shift ;;
    *) echo "usage: $0 [-n REQUESTS] [--rounds K] [--weft BIN] [--workers N]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$weft" ]; then
  for b in "$here/../build-release/examples/weft-redis" "$here/../build/examples/weft-redis"; do
    [ -x "$b" ] && { weft=$b; break; }
  done
fi
[ -x "$weft" ] || { echo "$0: no weft-redis binary (build it, or --weft BIN)" >&2; exit 2; }
for t in redis-server redis-benchmark; do
  command -v $t >/dev/null || { echo "$0: $t not installed" >&2; exit 2; }
done

port=$((34000 - RANDOM % 8000))
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # server
  port=$((port + 1))
  while port_open "$port"; do port=$((port + 1)); done
  case "$1" in
    weft) "$weft" --port "$port" --max-seconds 600 ${workers:+--workers "$workers"} >/dev/null 2>&1 & ;;
    redis) redis-server --save "" --appendonly no --bind 127.0.0.1 --port "$port" >/dev/null 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 200); do port_open "$port" && return 0; sleep 0.05; done
  echo "$0: $1 did not listen" >&2
  stop
  return 1
}

for ((r = 0; r < rounds; r++)); do
  for p in 1 16; do
    for server in weft redis; do
      start "$server"
      t0=$(proc_cpu_ticks "$pid")
      out=$(redis-benchmark -p "$port" -t ping_inline,ping_mbulk,set,get \
              -c 64 -n "$n" -P "$p" -q --csv)
      t1=$(proc_cpu_ticks "$pid")
      stop
      # --csv: "test","rps",... (header line first)
      echo "$out" | awk -F'"' -v s="$server" -v p="$p" '$2 != "test" && $4 != "" {
        printf "{\"server\":\"%s\",\"pipeline\":%d,\"test\":\"%s\",\"metric\":\"requests_per_sec\",\"value\":%s}\n", s, p, $2, $4 }'
      printf '{"server":"%s","pipeline":%d,"metric":"server_cpu_us_per_req","value":%s}\n' \
        "$server" "$p" "$(proc_us_per $((t1 - t0)) $((4 * n)))"
    done
  done
done
