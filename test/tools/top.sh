#!/usr/bin/env bash
# test/tools/top.sh WEFT_TOP TOP_TARGET - weft-top in a terminal (tmux):
#   1. start top_target (a weft program with the control socket), attach
#      weft-top in a detached tmux session, wait for its screen to show
#      the workers' load, the named tasks with what they wait on and the
#      long polls (capture-pane), press q (send-keys): weft-top exits;
#   2. attach again and stop the program (SIGTERM): weft-top says the
#      program exited, and exits 0;
#   3. SIGUSR1 (the program's dump_signal) writes the task dump on its
#      stderr, with the wait notes;
#   4. weft-top on a socket nobody serves fails with a clear message.
# Kills only what it started (by PID; its own tmux server by socket name).
set -euo pipefail
top=$1 target=$2
if ! command -v tmux >/dev/null; then
  # CI installs it (.ci/test): there a missing tmux is a failure
  [ "${CI:-}" = true ] && { echo "top.sh: tmux not installed" >&2; exit 1; }
  echo "top.sh: tmux not installed: skipped"; exit 77
fi
dir=$(mktemp -d /tmp/weft-top-test.XXXXXX)
sock=$dir/ctl.sock
tm=(tmux -L "weft-top-test-$$" -f /dev/null)
tpid=""
cleanup() {
  "${tm[@]}" kill-server 2>/dev/null || true
  [ -n "$tpid" ] && kill "$tpid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "top.sh: FAIL: $*" >&2; echo "--- pane:" >&2; cat "$dir/pane" >&2 2>/dev/null || true; echo "--- target stderr:" >&2; tail -20 "$dir/target.err" >&2 || true; exit 1; }

start_target() {
  "$target" "$sock" >"$dir/target.out" 2>>"$dir/target.err" &
  tpid=$!
  for _ in $(seq 200); do
    grep -q ready "$dir/target.out" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "top_target did not start"
}

capture() { "${tm[@]}" capture-pane -p -t top >"$dir/pane" 2>/dev/null || true; }
# waits (up to 30 s: a hang guard) until the pane matches every pattern
wait_pane() {
  for _ in $(seq 300); do
    capture
    local ok=1
    for pat in "$@"; do grep -Eq -- "$pat" "$dir/pane" || { ok=0; break; }; done
    ((ok)) && return 0
    sleep 0.1
  done
  fail "pane never showed: $*"
}
pane_dead() { [ "$("${tm[@]}" display-message -p -t top '#{pane_dead}' 2>/dev/null)" = 1 ]; }
wait_dead() {
  for _ in $(seq 300); do pane_dead && return 0; sleep 0.1; done
  fail "weft-top did not exit"
}
open_top() {
  "${tm[@]}" kill-session -t top 2>/dev/null || true
  "${tm[@]}" new-session -d -s top -x 160 -y 50 \
    "$top $sock; echo \"weft-top exit status \$?\"; sleep 600"
  "${tm[@]}" set-option -t top remain-on-exit on >/dev/null
}

# 1. the live view, then q
start_target
open_top
wait_pane '^weft-top - ' 'WORKER +LOAD' '^ +0 +[0-9.]+%' '^ +1 +[0-9.]+%' \
  ' spinner ' ' ticker .*timer in ' ' waiter .*channel 0x' \
  'LONG POLLS' 'blocker \([^)]*\) at top_target\.c:[0-9]+: ran [0-9.]+ms on worker'
# the spinner burns most of a worker: some worker shows load, the
# spinner's CPU column is not zero
grep -Eq '^[0-9a-f]+ +[a-z]+ +[1-9][0-9.]* .* spinner ' "$dir/pane" ||
  wait_pane '^[0-9a-f]+ +[a-z]+ +[1-9][0-9.]* .* spinner '
cp "$dir/pane" "$dir/screen1"
"${tm[@]}" send-keys -t top q
wait_pane '^weft-top exit status 0'
kill -0 "$tpid" || fail "the program died when weft-top quit"

# 2. the program exits under weft-top
open_top
wait_pane ' spinner '
kill -TERM "$tpid"
wait "$tpid" || fail "top_target exited non-zero"
tpid=""
wait_pane 'weft-top: the program exited' '^weft-top exit status 0'

# 3. the dump on a signal
: >"$dir/target.err"
start_target
sleep 0.5
kill -USR1 "$tpid"
for _ in $(seq 100); do
  grep -q 'weft: end of task dump' "$dir/target.err" && break
  sleep 0.1
done
grep -q 'weft: task dump (signal 10)' "$dir/target.err" || fail "no dump on SIGUSR1"
grep -Eq ' name ticker .* waits timer (in [0-9.]+s|due)' "$dir/target.err" || fail "dump: ticker's timer"
grep -Eq ' name waiter .* waits channel 0x' "$dir/target.err" || fail "dump: waiter's channel"
kill -TERM "$tpid"; wait "$tpid"; tpid=""

# 4. nobody there
if "$top" "$sock" >"$dir/out" 2>&1; then fail "weft-top attached to nothing"; fi
grep -q "cannot attach to $sock" "$dir/out" || { cat "$dir/out" >&2; fail "no clear message"; }

echo "top.sh: ok"
[ -n "${WEFT_TOP_SCREEN:-}" ] && cp "$dir/screen1" "$WEFT_TOP_SCREEN"
exit 0
