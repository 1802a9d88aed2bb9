#!/usr/bin/env bash
# bench/rss.sh - does an idle weft server give a burst's memory back
# (issue 15)? Resident memory of `BIN tcp_echo_server` before a burst of
# connections, at its peak, and every second for 12 s after it, idle.
#
#   bench/rss.sh [--conns N] [--rounds K] [--bin BIN] [--env VAR=VALUE]...
#
# The burst (a python3 client): N connections (default 15000; the
# descriptor limit of both sides bounds it) opened at once, each sending
# 64 bytes and reading the echo, then half of them closed normally and
# half reset (SO_LINGER 0: an RST storm). RSS is VmRSS (bench/proc.sh).
# Default BIN: build-release/bench/weft-bench, else build/... --env runs
# the server with VAR=VALUE, e.g. MALLOC_CONF=background_thread:false,
# dirty_decay_ms:10000 for jemalloc's own defaults (weft then leaves them:
# the figure before issue 15). Prints JSON lines
#   {"conns":N,"t_s":T,"metric":"rss_kb","value":..}  (t_s -1: before, 0: peak)
# and to stderr the pass line: RSS at 10 s against twice the pre-burst.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/proc.sh
. "$here/proc.sh"
conns=15000 rounds=1 bin="" envs=()
while (($#)); do
  case "$1" in
    --conns) conns=${2:?}; shift ;;
    --rounds) rounds=${2:?}; shift ;;
    --bin) bin=${2:?}; shift ;;
    --env) envs+=("${2:?}"); shift ;;
    *) echo "usage: $0 [--conns N] [--rounds K] [--bin BIN] [--env VAR=VALUE]..." >&2; exit 2 ;;
  esac
  shift
done
bin=$(weft_bench_bin "$here" "$bin") || exit 2
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port=$((36000 - RANDOM % 8000))
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

row() { printf '{"conns":%d,"t_s":%s,"metric":"rss_kb","value":%d}\n' "$conns" "$1" "$2"; }

for ((r = 0; r < rounds; r++)); do
  port=$((port + 1))
  while port_open "$port"; do port=$((port + 1)); done
  env ${envs[@]+"${envs[@]}"} "$bin" tcp_echo_server --port "$port" --max-seconds 600 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do port_open "$port" && break; sleep 0.05; done
  sleep 1
  before=$(proc_rss_kb "$pid")
  row -1 "$before"
  peak=$before
  python3 - "$port" "$conns" <<'PY' &
import select, socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
ep = select.epoll()
for s in socks:
    ep.register(s.fileno(), select.EPOLLOUT)
byfd = {s.fileno(): s for s in socks}
sent, done = set(), 0
while done < n:
    for fd, ev in ep.poll(5):
        s = byfd[fd]
        if fd not in sent and ev & select.EPOLLOUT:
            try:
                s.send(b"x" * 64)
            except OSError:
                done += 1; ep.unregister(fd); continue
            sent.add(fd)
            ep.modify(fd, select.EPOLLIN)
        elif ev & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
            try:
                s.recv(64)
            except OSError:
                pass
            done += 1
            ep.unregister(fd)
for i, s in enumerate(socks):
    if i % 2:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
  cpid=$!
  while kill -0 "$cpid" 2>/dev/null; do
    v=$(proc_rss_kb "$pid"); ((v > peak)) && peak=$v
    sleep 0.1
  done
  wait "$cpid" || true
  v=$(proc_rss_kb "$pid"); ((v > peak)) && peak=$v
  row 0 "$peak"
  for t in $(seq 12); do
    sleep 1
    v=$(proc_rss_kb "$pid")
    row "$t" "$v"
    [ "$t" -eq 10 ] && at10=$v
  done
  if ((at10 <= 2 * before)); then verdict=met; else verdict=missed; fi
  echo "rss: before ${before} KiB, peak ${peak} KiB, at 10 s ${at10} KiB: within 2x of before: $verdict" >&2
  stop
done
