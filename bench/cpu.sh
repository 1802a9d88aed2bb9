#!/usr/bin/env bash
# bench/cpu.sh - the server's own CPU time per message (tcp_echo) and per
# request (http_plaintext), beside its throughput, for weft and the peers.
#
#   bench/cpu.sh [--rounds K] [--conns "16 64"] [--dur S] [--http]
#                PEER=SERVER_BINARY...
#
# On a 2-core host the load generator shares the server's CPUs, so
# throughput is bound by it; the server's CPU time over the measured window
# (utime + stime of its process from /proc/PID/stat, read when the window
# opens and when it closes) divided by the messages (requests) completed in
# the window is the server's own cost. Each SERVER_BINARY is started as
# `SERVER_BINARY tcp_echo_server --port P --max-seconds 300` (and
# `http_server` with --http) like ../shared/peers/run starts them: weft's
# build-release/bench/weft-bench, the peers' tokio-bench and go-bench from
# ../shared/peers/build (run ../shared/peers/run once to build them).
# Rounds alternate the peers. Prints JSON lines:
#   {"peer":..,"workload":"tcp_echo","n":CONNS,"metric":"server_cpu_us_per_msg","value":..}
#   {"peer":..,"workload":"tcp_echo","n":CONNS,"metric":"msgs_per_sec","value":..}
# (http_plaintext: server_cpu_us_per_req and requests_per_sec) and, at the
# end, the median of each row over the rounds to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers_dir=$(cd "$here/../../shared/peers" 2>/dev/null && pwd || true)
loadgen=${LOADGEN:-$peers_dir/build/loadgen}
rounds=3 conns="16 64" dur=3 warm=1 http=""
specs=()
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --conns) conns=$2; shift ;;
    --dur) dur=$2; shift ;;
    --http) http=1 ;;
    *=*) specs+=("$1") ;;
    *) echo "usage: $0 [--rounds K] [--conns LIST] [--dur S] [--http] PEER=BIN..." >&2; exit 2 ;;
  esac
  shift
done
((${#specs[@]})) || { echo "$0: name at least one PEER=BIN" >&2; exit 2; }
[ -x "$loadgen" ] || { echo "$0: no load generator at $loadgen (run ../shared/peers/run once)" >&2; exit 2; }
[ -z "$http" ] || command -v wrk >/dev/null || { echo "$0: wrk not installed" >&2; exit 2; }

tck=$(getconf CLK_TCK)
port=$((33000 - RANDOM % 8000))
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start() { # bin subcommand
  port=$((port + 1))
  while port_open "$port"; do port=$((port + 1)); done
  "$1" "$2" --port "$port" --max-seconds 300 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do port_open "$port" && return 0; sleep 0.05; done
  echo "$0: $1 $2 did not listen" >&2
  stop
  return 1
}

rows=$(mktemp)
row() { # peer workload n metric value
  local l
  l=$(printf '{"peer":"%s","workload":"%s","n":%s,"metric":"%s","value":%.2f}' "$@")
  echo "$l"
  echo "$l" >>"$rows"
}

echo_round() { # peer bin
  local c out a b rate
  start "$2" tcp_echo_server || return 0
  for c in $conns; do
    out=$(mktemp)
    "$loadgen" --port "$port" --conns "$c" --threads 2 --size 64 \
      --duration "$dur" --warmup "$warm" --peer "$1" --workload tcp_echo >"$out" &
    local lg=$!
    sleep "$warm"; a=$(cpu_ticks "$pid")
    sleep "$dur"; b=$(cpu_ticks "$pid")
    wait "$lg" || { echo "$0: loadgen failed for $1" >&2; rm -f "$out"; continue; }
    rate=$(sed -n 's/.*"metric":"msgs_per_sec","value":\([0-9.]*\).*/\1/p' "$out")
    rm -f "$out"
    row "$1" tcp_echo "$c" msgs_per_sec "$rate"
    row "$1" tcp_echo "$c" server_cpu_us_per_msg \
      "$(awk -v t=$((b - a)) -v k="$tck" -v r="$rate" -v d="$dur" 'BEGIN { print t / k * 1e6 / (r * d) }')"
  done
  stop
}

http_round() { # peer bin
  local a b out rps
  start "$2" http_server || return 0
  wrk -t2 -c64 -d"${warm}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  out=$(mktemp)
  wrk -t2 -c64 -d"${dur}s" "http://127.0.0.1:$port/" >"$out" 2>&1 &
  local w=$!
  sleep 0.2; a=$(cpu_ticks "$pid")
  sleep "$(awk -v d="$dur" 'BEGIN { print d - 0.4 }')"; b=$(cpu_ticks "$pid")
  wait "$w" || true
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  rm -f "$out"
  row "$1" http_plaintext 64 requests_per_sec "$rps"
  row "$1" http_plaintext 64 server_cpu_us_per_req \
    "$(awk -v t=$((b - a)) -v k="$tck" -v r="$rps" -v d="$dur" 'BEGIN { print t / k * 1e6 / (r * (d - 0.4)) }')"
  stop
}

for ((i = 0; i < rounds; i++)); do
  for s in "${specs[@]}"; do
    echo_round "${s%%=*}" "${s#*=}"
    [ -z "$http" ] || http_round "${s%%=*}" "${s#*=}"
  done
done

python3 - "$rows" >&2 <<'PY'
import json, statistics, sys
rows = {}
for ln in open(sys.argv[1]):
    r = json.loads(ln)
    rows.setdefault((r["workload"], r["n"], r["metric"], r["peer"]), []).append(r["value"])
print("medians over the rounds:")
for k in sorted(rows):
    v = rows[k]
    print("  %-15s n=%-4s %-22s %-10s %10.2f  (%s)" % (k[0], k[1], k[2], k[3],
          statistics.median(v), " ".join("%.2f" % x for x in v)))
PY
rm -f "$rows"
