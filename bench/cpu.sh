#!/usr/bin/env bash
# bench/cpu.sh - the server's own CPU time per message (tcp_echo) and per
# request (http_plaintext), beside its throughput and latency, for weft and
# the peers.
#
#   bench/cpu.sh [--rounds K] [--conns "1 16 64 512"] [--http-conns "16 64 256"]
#                [--dur S] [--warm S] [--http | --http-only] [--beside-runner]
#                [--medians] PEER=SERVER_BINARY...
#
# On a 2-core host the load generator shares the server's CPUs, so
# throughput is bound by it; the server's CPU time over the measured window
# (utime + stime of its process, bench/proc.sh, read when the window opens
# and when it closes) divided by the messages (requests) completed in the
# window is the server's own cost. Each SERVER_BINARY is started as
# `SERVER_BINARY tcp_echo_server --port P --max-seconds 300` (and
# `http_server` with --http) like ../shared/peers/run starts them: weft's
# build-release/bench/weft-bench, the peers' tokio-bench and go-bench from
# ../shared/peers/build (run ../shared/peers/run once to build them), the
# ceiling servers of bench/ceiling. The load is the peers' own: their
# loadgen (--threads 2 --size 64, one server for all connection counts)
# and wrk -t2 (a warm-up run, then the measured one), with the peers'
# runner's flags. Rounds alternate the peers' order.
# Prints JSON lines (the peers' row format, README "Output"):
#   tcp_echo, n=CONNS: msgs_per_sec, p50_us, p99_us (loadgen's own rows),
#                      server_cpu_us_per_msg
#   http_plaintext, n=CONNS: requests_per_sec, p99_us (wrk --latency),
#                      server_cpu_us_per_req
# and, at the end, the median of each row over the rounds to stderr.
# --beside-runner: leaves out the rows ../shared/peers/run has already
# (tcp_echo 64 and 512 but their CPU rows, http_plaintext 64's
# requests_per_sec), for the callers that merge both. --medians: prints
# only the medians over the rounds, as JSON lines, at the end.
# bench/run and bench/ceiling/run call it for their CPU columns.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/proc.sh
. "$here/proc.sh"
peers_dir=$(cd "${WEFT_PEERS:-$here/../../shared/peers}" 2>/dev/null && pwd || true)
loadgen=${LOADGEN:-$peers_dir/build/loadgen}
rounds=3 conns="1 16 64 512" hconns="16 64 256" dur=3 warm=1 echo=1 http="" beside="" medians=""
specs=()
usage() {
  echo "usage: $0 [--rounds K] [--conns LIST] [--http-conns LIST] [--dur S] [--warm S] [--http | --http-only] [--beside-runner] [--medians] PEER=BIN..." >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --rounds) rounds=${2:?}; shift ;;
    --conns) conns=${2?}; shift ;;
    --http-conns) hconns=${2?}; shift ;;
    --dur) dur=${2:?}; shift ;;
    --warm) warm=${2:?}; shift ;;
    --http) http=1 ;;
    --http-only) http=1; echo="" ;;
    --beside-runner) beside=1 ;;
    --medians) medians=1 ;;
    *=*) specs+=("$1") ;;
    *) usage ;;
  esac
  shift
done
((${#specs[@]})) || { echo "$0: name at least one PEER=BIN" >&2; exit 2; }
[ -z "$echo" ] || [ -x "$loadgen" ] || { echo "$0: no load generator at $loadgen (run ../shared/peers/run once)" >&2; exit 2; }
[ -z "$http" ] || command -v wrk >/dev/null || { echo "$0: wrk not installed" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port=$((33000 - RANDOM % 8000))
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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
emit() {
  if [ -n "$beside" ]; then
    case "$1" in
      *'"workload":"tcp_echo","n":64,'*server_cpu*|*'"workload":"tcp_echo","n":512,'*server_cpu*) ;;
      *'"workload":"tcp_echo","n":64,'*|*'"workload":"tcp_echo","n":512,'*) return 0 ;;
      *'"workload":"http_plaintext","n":64,"metric":"requests_per_sec"'*) return 0 ;;
    esac
  fi
  echo "$1" >>"$rows"
  [ -n "$medians" ] || echo "$1"
}
row() { # peer workload n metric value
  emit "$(printf '{"peer":"%s","workload":"%s","n":%s,"metric":"%s","value":%.2f}' "$@")"
}

echo_round() { # peer bin
  local c out a b rate l lg
  start "$2" tcp_echo_server || return 0
  for c in $conns; do
    out=$(mktemp)
    "$loadgen" --port "$port" --conns "$c" --threads 2 --size 64 \
      --duration "$dur" --warmup "$warm" --peer "$1" --workload tcp_echo >"$out" &
    lg=$!
    sleep "$warm"; a=$(proc_cpu_ticks "$pid")
    sleep "$dur"; b=$(proc_cpu_ticks "$pid")
    if ! wait "$lg"; then echo "$0: loadgen failed for $1 at $c connections" >&2; rm -f "$out"; continue; fi
    while read -r l; do [ -n "$l" ] && emit "$l"; done <"$out"
    rate=$(sed -n 's/.*"metric":"msgs_per_sec","value":\([0-9.]*\).*/\1/p' "$out")
    rm -f "$out"
    [ -n "$rate" ] || continue
    row "$1" tcp_echo "$c" server_cpu_us_per_msg \
      "$(proc_us_per $((b - a)) "$(awk -v r="$rate" -v d="$dur" 'BEGIN { print r * d }')")"
  done
  stop
}

# wrk's latency line "99%  1.23ms" in microseconds.
wrk_p99_us() {
  awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : 0
    if (m) printf "%.1f\n", v * m }' "$1"
}

http_round() { # peer bin
  local a b out rps c w p99 win
  start "$2" http_server || return 0
  win=$(awk -v d="$dur" 'BEGIN { print d - 0.4 }')
  for c in $hconns; do
    wrk -t2 -c"$c" -d"${warm}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    out=$(mktemp)
    wrk -t2 -c"$c" -d"${dur}s" --latency "http://127.0.0.1:$port/" >"$out" 2>&1 &
    w=$!
    sleep 0.2; a=$(proc_cpu_ticks "$pid")
    sleep "$win"; b=$(proc_cpu_ticks "$pid")
    wait "$w" || true
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p99=$(wrk_p99_us "$out")
    rm -f "$out"
    [ -n "$rps" ] || { echo "$0: wrk gave no result for $1 at $c connections" >&2; continue; }
    row "$1" http_plaintext "$c" requests_per_sec "$rps"
    [ -z "$p99" ] || row "$1" http_plaintext "$c" p99_us "$p99"
    row "$1" http_plaintext "$c" server_cpu_us_per_req \
      "$(proc_us_per $((b - a)) "$(awk -v r="$rps" -v d="$win" 'BEGIN { print r * d }')")"
  done
  stop
}

for ((i = 0; i < rounds; i++)); do
  order=("${specs[@]}")
  if ((i % 2)); then
    order=()
    for ((j = ${#specs[@]} - 1; j >= 0; j--)); do order+=("${specs[$j]}"); done
  fi
  for s in "${order[@]}"; do
    [ -z "$echo" ] || echo_round "${s%%=*}" "${s#*=}"
    [ -z "$http" ] || http_round "${s%%=*}" "${s#*=}"
  done
done

python3 - "$rows" "$medians" <<'PY' || true
import json, statistics, sys
rows = {}
for ln in open(sys.argv[1]):
    r = json.loads(ln)
    rows.setdefault((r["workload"], r["n"], r["metric"], r["peer"]), []).append(r["value"])
print("medians over the rounds:", file=sys.stderr)
for k in sorted(rows):
    v = rows[k]
    print("  %-15s n=%-4s %-22s %-14s %10.2f  (%s)" % (k[0], k[1], k[2], k[3],
          statistics.median(v), " ".join("%.2f" % x for x in v)), file=sys.stderr)
    if sys.argv[2]:
        print(json.dumps({"peer": k[3], "workload": k[0], "n": k[1], "metric": k[2],
                          "value": round(statistics.median(v), 2)}, separators=(",", ":")))
PY
rm -f "$rows"
