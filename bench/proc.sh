# bench/proc.sh - what the benchmark scripts read from /proc, in one place
# (sourced by bench/cpu.sh, bench/redis.sh, bench/pool.sh, bench/rss.sh;
# bash). A server's CPU time is utime + stime of its whole process (every
# thread) from /proc/PID/stat, in clock ticks; its resident memory is
# VmRSS from /proc/PID/status.
#
#   proc_cpu_ticks PID            utime + stime now, in ticks
#   proc_us_per TICKS COUNT       TICKS of CPU time per COUNT units, in us
#   proc_rss_kb PID               resident set now, in KiB
# and, for the scripts that start weft's own server:
#   weft_bench_bin DIR BIN        BIN if given, else DIR/../build-release's
#                                 or DIR/../build's bench/weft-bench; exits
#                                 with a message when there is none

proc_tck=$(getconf CLK_TCK)

proc_cpu_ticks() {
  # the command name (field 2) is in parentheses and may hold spaces:
  # count the fields after its closing parenthesis
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

proc_us_per() {
  awk -v t="$1" -v k="$proc_tck" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f\n", t / k * 1e6 / n; else print "0" }'
}

proc_rss_kb() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

weft_bench_bin() {
  local dir=$1 bin=${2:-} b
  if [ -z "$bin" ]; then
    for b in "$dir/../build-release/bench/weft-bench" "$dir/../build/bench/weft-bench"; do
      [ -x "$b" ] && { bin=$b; break; }
    done
  fi
  [ -x "$bin" ] || { echo "$0: no weft-bench (build it, or --bin BIN)" >&2; exit 2; }
  echo "$bin"
}
