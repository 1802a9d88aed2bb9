#!/bin/sh
# test/bench/shape.sh - every implemented workload of weft-bench runs,
# passes its own correctness checks and prints rows of the right shape.
#
#   test/bench/shape.sh PATH/TO/weft-bench
#
# Runs each in-process workload that `weft-bench --list` names with --quick
# at a reduced size (--n), through the same code path as a real run, and
# checks: exit status 0, nothing but JSON rows on stdout, each row exactly
# {"peer":"weft","workload":W,"n":N[,"tasks"|"producers":K|,"load":L],
# "metric":M,"value":V} with V to one decimal, and the metrics the peers
# README gives for W (wake_latency: three per load, idle then busy). Also
# checks that a workload not built yet says "not implemented" and exits 3,
# and that a bad command line exits 2. The servers
# (tcp_echo_server, http_server) are the network tests' business.
# Exit 0 pass, 1 fail (meson test's convention; 77 would be skip).
set -u

bin=${1:?usage: shape.sh PATH/TO/weft-bench}
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() { echo "FAIL: $*" >&2; fail=1; }

# expected "metric[:extra]" list per workload (peers README, "Output")
metrics_of() {
  case "$1" in
    spawn_many|spawn_remote|joinset|spawn_join) echo "ns_per_task" ;;
    yield_many) echo "ns_per_yield:tasks" ;;
    ping_pong) echo "ns_per_round_trip" ;;
    chained_spawn) echo "ns_per_spawn" ;;
    mpsc_throughput) echo "ns_per_msg:producers ns_per_msg:producers" ;;
    oneshot) echo "ns_per_op" ;;
    futset_wake) echo "ns_per_wake" ;;
    stream_for_each) echo "ns_per_item_concurrent:tasks ns_per_item_loop" ;;
    sleep_many) echo "wall_ms mean_lateness_us" ;;
    idle_memory) echo "bytes_per_task" ;;
    wake_latency) echo "p50_us:idle p99_us:idle p999_us:idle p50_us:busy p99_us:busy p999_us:busy" ;;
    *) echo "?" ;;
  esac
}

# reduced sizes: small enough for sanitizer builds, large enough that
# both workers take part
size_of() {
  case "$1" in
    idle_memory) echo 20000 ;;
    yield_many) echo 20000 ;;  # 200 tasks x 100 yields
    mpsc_throughput) echo 40000 ;;
    sleep_many) echo 2000 ;;
    wake_latency) echo 1000 ;;  # --quick's R: 2 x 1000 wake-ups per load
    *) echo 5000 ;;
  esac
}

list=$("$bin" --list) || { echo "FAIL: weft-bench --list" >&2; exit 1; }
ran=0
for w in $list; do
  case "$w" in tcp_echo_server|http_server) continue ;; esac
  n=$(size_of "$w")
  # a hang (a lost wake-up) fails this workload after 120 s, not the
  # whole test at meson's timeout
  timeout -s KILL 120 "$bin" "$w" --quick --n "$n" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" -eq 137 ]; then
    bad "$w --quick --n $n hung (killed after 120 s)"
    continue
  elif [ "$rc" -ne 0 ]; then
    bad "$w --quick --n $n exited $rc: $(tail -n 5 "$tmp/err")"
    continue
  fi
  ran=$((ran + 1))
  want=$(metrics_of "$w")
  got=""
  while IFS= read -r row; do
    if ! printf '%s\n' "$row" | grep -Eq \
      '^\{"peer":"weft","workload":"'"$w"'","n":[1-9][0-9]*(,"(tasks|producers)":[1-9][0-9]*|,"load":"(idle|busy)")?,"metric":"[a-z0-9_]+","value":-?[0-9]+\.[0-9]\}$'; then
      bad "$w: malformed row: $row"
      continue
    fi
    m=$(printf '%s\n' "$row" | sed 's/.*"metric":"\([a-z0-9_]*\)".*/\1/')
    case "$row" in
      *'"tasks":'*) m="$m:tasks" ;;
      *'"producers":'*) m="$m:producers" ;;
      *'"load":"idle"'*) m="$m:idle" ;;
      *'"load":"busy"'*) m="$m:busy" ;;
    esac
    got="${got:+$got }$m"
  done <"$tmp/out"
  [ "$got" = "$want" ] || bad "$w: rows give metrics '$got', expected '$want'"
  echo "ok $w: $(tr '\n' ' ' <"$tmp/out")"
done
[ "$ran" -gt 0 ] || bad "no workload ran"

# sleep_many --dist: the default rows, then four percentile rows in
# order; a stderr line per repetition (warm-up and measured) whose
# percentiles are ordered, whose minimum is not negative (no sleep wakes
# before its deadline) and which has 12 bucket means
case " $(echo $list) " in *" sleep_many "*)
  if timeout -s KILL 120 "$bin" sleep_many --quick --n 2000 --dist \
       >"$tmp/out" 2>"$tmp/err"; then
    got=$(sed 's/.*"metric":"\([a-z0-9_]*\)".*/\1/' "$tmp/out" | tr '\n' ' ')
    [ "$got" = "wall_ms mean_lateness_us lateness_p50_us lateness_p99_us lateness_p999_us lateness_max_us " ] ||
      bad "sleep_many --dist: rows give metrics '$got'"
    lines=$(grep -c '^sleep_many rep [01]: lateness us min ' "$tmp/err")
    [ "$lines" -eq 2 ] || bad "sleep_many --dist: $lines repetition lines, expected 2"
    grep '^sleep_many rep ' "$tmp/err" | awk '
      { for (i = 1; i <= NF; i++) v[$i] = $(i + 1)
        b = $0; sub(/.*buckets\): /, "", b)
        if (v["min"] < 0 || v["min"] > v["p50"] || v["p50"] > v["p90"] ||
            v["p90"] > v["p99"] || v["p99"] > v["p99.9"] ||
            v["p99.9"] > v["max"] + 0 || split(b, x, " ") != 12) bad = 1 }
      END { exit bad }' || bad "sleep_many --dist: bad line: $(grep '^sleep_many rep ' "$tmp/err")"
    echo "ok sleep_many --dist: $(grep '^sleep_many rep 1' "$tmp/err")"
  else
    bad "sleep_many --dist exited $?: $(tail -n 5 "$tmp/err")"
  fi ;;
esac

# workloads not built yet: "not implemented", exit 3
for w in spawn_many spawn_remote yield_many ping_pong chained_spawn mpsc_throughput \
         oneshot sleep_many idle_memory wake_latency tcp_echo_server http_server; do
  case " $(echo $list) " in *" $w "*) continue ;; esac
  "$bin" "$w" --quick >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 3 ] && grep -q "not implemented" "$tmp/err" && [ ! -s "$tmp/out" ] ||
    bad "$w (not built) exited $rc, stderr '$(cat "$tmp/err")'"
done

# bad command lines
"$bin" no_such_workload >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown workload should exit 2"
first=$(echo $list | cut -d' ' -f1)
"$bin" "$first" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown option should exit 2"

exit $fail
