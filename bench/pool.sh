#!/usr/bin/env bash
# bench/pool.sh - noisy neighbours through the receive buffer pool (issue
# 15): the tcp_echo throughput of 16 normal connections alone and beside
# 200 connections that send and never read, on one weft server.
#
#   bench/pool.sh [--rounds K] [--stalled N] [--conns C] [--dur S] [--bin BIN]
#                 [--env VAR=VALUE]
#
# The server is `BIN tcp_echo_server` (default build-release/bench/weft-
# bench, else build/...). Each round measures, on a fresh server, the
# peers' loadgen with C connections (--threads 2 --size 64) alone, then
# with N stalled clients connected (a python3 client: each connection
# sends 64 KiB writes until its socket takes no more, and retries every
# 50 ms; it never reads, so the server's echo blocks and its receives pile
# up; measured once no socket took a byte for 1 s), then alone again. Prints JSON lines:
#   {"stalled":0|N,"metric":"msgs_per_sec"|"server_cpu_us_per_msg"|"p99_us","value":..}
# and the medians with the ratio with/without to stderr. --env VAR=VALUE
# runs the server with it (e.g. WEFT_IO_DISABLE=0x40: the pool's copies
# off, for the before/after figure).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/proc.sh
. "$here/proc.sh"
peers_dir=$(cd "${WEFT_PEERS:-$here/../../shared/peers}" 2>/dev/null && pwd || true)
loadgen=${LOADGEN:-$peers_dir/build/loadgen}
rounds=3 stalled=200 conns=16 dur=3 warm=1 bin="" envs=()
while (($#)); do
  case "$1" in
    --rounds) rounds=${2:?}; shift ;;
    --stalled) stalled=${2:?}; shift ;;
    --conns) conns=${2:?}; shift ;;
    --dur) dur=${2:?}; shift ;;
    --bin) bin=${2:?}; shift ;;
    --env) envs+=("${2:?}"); shift ;;
    *) echo "usage: $0 [--rounds K] [--stalled N] [--conns C] [--dur S] [--bin BIN] [--env VAR=VALUE]" >&2; exit 2 ;;
  esac
  shift
done
bin=$(weft_bench_bin "$here" "$bin") || exit 2
[ -x "$loadgen" ] || { echo "$0: no load generator at $loadgen (LOADGEN=...)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port=$((35000 - RANDOM % 8000))
pid="" spid=""
stop_stall() { if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=""; fi; }
stop() { stop_stall; if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  port=$((port + 1))
  while port_open "$port"; do port=$((port + 1)); done
  env ${envs[@]+"${envs[@]}"} "$bin" tcp_echo_server --port "$port" --max-seconds 600 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do port_open "$port" && return 0; sleep 0.05; done
  echo "$0: $bin did not listen" >&2
  exit 1
}

stall() { # connects N clients that send and never read; returns once they are stuck
  local ready
  ready=$(mktemp)
  python3 - "$port" "$stalled" "$ready" <<'PY' &
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    conns.append(s)
buf = b"s" * 65536
told, idle, total, t0 = False, 0, 0, time.time()
while True:
    took = 0
    for s in conns:
        try:
            took += s.send(buf)
        except (BlockingIOError, InterruptedError):
            pass
    total += took
    idle = 0 if took else idle + 1
    if idle >= 20 and not told:  # 1 s without a byte taken: stuck
        sys.stderr.write("stalled clients stuck after %.1f s, %d MB sent\n"
                         % (time.time() - t0, total >> 20))
        open(ready, "w").write("stuck\n")
        told = True
    time.sleep(0.001 if took else 0.05)
PY
  spid=$!
  for _ in $(seq 1200); do [ -s "$ready" ] && break; sleep 0.05; done
  rm -f "$ready"
  sleep 0.5
}

rows=$(mktemp)
measure() { # stalled-count
  local n=$1 out a b rate p99 l m
  out=$(mktemp)
  "$loadgen" --port "$port" --conns "$conns" --threads 2 --size 64 \
    --duration "$dur" --warmup "$warm" --peer weft --workload tcp_echo >"$out" &
  l=$!
  sleep "$warm"; a=$(proc_cpu_ticks "$pid")
  sleep "$dur"; b=$(proc_cpu_ticks "$pid")
  wait "$l" || { echo "$0: loadgen failed" >&2; rm -f "$out"; return 0; }
  rate=$(sed -n 's/.*"metric":"msgs_per_sec","value":\([0-9.]*\).*/\1/p' "$out")
  p99=$(sed -n 's/.*"metric":"p99_us","value":\([0-9.]*\).*/\1/p' "$out")
  rm -f "$out"
  for m in "msgs_per_sec $rate" "p99_us $p99" \
           "server_cpu_us_per_msg $(proc_us_per $((b - a)) "$(awk -v r="$rate" -v d="$dur" 'BEGIN { print r * d }')")"; do
    printf '{"stalled":%d,"conns":%d,"metric":"%s","value":%.2f}\n' "$n" "$conns" "${m%% *}" "${m#* }" | tee -a "$rows"
  done
}

for ((r = 0; r < rounds; r++)); do
  start
  measure 0
  stall
  measure "$stalled"
  stop_stall
  sleep 0.5
  measure 0
  stop
done

python3 - "$rows" "$stalled" >&2 <<'PY'
import json, statistics, sys
rows = {}
for ln in open(sys.argv[1]):
    r = json.loads(ln)
    rows.setdefault((r["metric"], r["stalled"]), []).append(r["value"])
n = int(sys.argv[2])
for m in ("msgs_per_sec", "p99_us", "server_cpu_us_per_msg"):
    a, b = rows.get((m, 0), []), rows.get((m, n), [])
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print("%-22s alone %10.2f  beside %d stalled %10.2f  ratio %.2f   (alone: %s; beside: %s)" % (
            m, ma, n, mb, mb / ma if ma else 0, " ".join("%.1f" % x for x in a), " ".join("%.1f" % x for x in b)))
PY
rm -f "$rows"
