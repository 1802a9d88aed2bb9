#!/usr/bin/env bash
# bench/where.sh - where a tcp_echo server's CPU goes, per message: its
# threads' CPU time (/proc/PID/task/*/stat) and a perf profile grouped by
# kind of work (bench/where_cats.py), over one loadgen window.
#
#   bench/where.sh [--conns N] [--dur S] [--no-perf] NAME=SERVER_BINARY...
#
# Each SERVER_BINARY is started as `SERVER_BINARY tcp_echo_server --port P
# --max-seconds 120` (weft-bench, the peers' tokio-bench and go-bench, the
# ceiling servers), driven by the peers' loadgen (--threads 2 --size 64,
# $LOADGEN or ../shared/peers/build/loadgen) for 1 s of warm-up and S
# seconds (default 3) measured; the threads' ticks are read when the
# window opens and closes, and `perf record -F 2000 -g` samples the server
# over the same window (the categories need perf; --no-perf leaves them
# out). Prints, per server, the messages per second, each thread's CPU
# microseconds per message (threads with the same name summed), and the
# categories' shares of the sampled CPU in microseconds per message. Used
# for docs/benchmarks.md ("where the CPU goes"). Loopback only; stops
# only the servers it started.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/proc.sh
. "$here/proc.sh"
peers_dir=$(cd "${WEFT_PEERS:-$here/../../shared/peers}" 2>/dev/null && pwd || true)
loadgen=${LOADGEN:-$peers_dir/build/loadgen}
conns=16 dur=3 perf=1
specs=()
while (($#)); do
  case "$1" in
    --conns) conns=${2:?}; shift ;;
    --dur) dur=${2:?}; shift ;;
    --no-perf) perf="" ;;
    *=*) specs+=("$1") ;;
    *) echo "usage: $0 [--conns N] [--dur S] [--no-perf] NAME=BIN..." >&2; exit 2 ;;
  esac
  shift
done
((${#specs[@]})) || { echo "$0: name at least one NAME=BIN" >&2; exit 2; }
[ -x "$loadgen" ] || { echo "$0: no load generator at $loadgen" >&2; exit 2; }
[ -z "$perf" ] || command -v perf >/dev/null || { echo "$0: perf not installed (or --no-perf)" >&2; exit 2; }
tmp=$(mktemp -d)
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop; rm -rf "$tmp"' EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
threads() { # pid -> "tid name ticks" per thread, sorted by tid
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
  done | sort
}

port=$((34000 - RANDOM % 8000))
for spec in "${specs[@]}"; do
  name=${spec%%=*} bin=${spec#*=}
  port=$((port + 1))
  while port_open "$port"; do port=$((port + 1)); done
  "$bin" tcp_echo_server --port "$port" --max-seconds 120 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do port_open "$port" && break; sleep 0.05; done
  "$loadgen" --port "$port" --conns "$conns" --threads 2 --size 64 \
    --duration "$dur" --warmup 1 >"$tmp/lg" &
  lg=$!
  sleep 1
  threads "$pid" >"$tmp/a"
  if [ -n "$perf" ]; then
    perf record -q -F 2000 -g -p "$pid" -o "$tmp/perf.data" -- sleep "$dur" >/dev/null 2>&1
  else
    sleep "$dur"
  fi
  threads "$pid" >"$tmp/b"
  wait "$lg"
  stop
  rate=$(sed -n 's/.*"metric":"msgs_per_sec","value":\([0-9.]*\).*/\1/p' "$tmp/lg")
  msgs=$(awk -v r="$rate" -v d="$dur" 'BEGIN { print r * d }')
  echo "== $name: tcp_echo, $conns connections, $rate msgs/s"
  echo "   threads (CPU us per message, $(getconf CLK_TCK) ticks/s):"
  # by thread id; a thread that starts or ends inside the window is left out
  join "$tmp/a" "$tmp/b" | awk '{ d[$2] += $5 - $3; s += $5 - $3 } END { for (t in d) print t, d[t]; print "total", s }' |
    while read -r t d; do
      printf '     %-18s %8s\n' "$t" "$(proc_us_per "$d" "$msgs")"
    done
  [ -z "$perf" ] || python3 "$here/where_cats.py" "$tmp/perf.data" "$rate" "$dur" "$(basename "$bin")"
done
