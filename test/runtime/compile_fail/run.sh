#!/bin/sh
# test/runtime/compile_fail/run.sh DIR INCLUDE CC [CC args...]
# Each fail_*.c in DIR must fail to compile, with a diagnostic matching
# the extended regex on its "expect:" line (so it fails for the reason it
# is there for, not another); ok.c, the same macros used correctly, must
# compile with -Werror. Fails on the first file that does otherwise.
set -u
dir=$1 inc=$2
shift 2
flags="-std=c11 -D_GNU_SOURCE -fsyntax-only -Wall -Wextra -I$inc -I$dir"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
if ! "$@" $flags -Werror -Wpedantic "$dir/ok.c" >"$out" 2>&1; then
	echo "FAIL ok.c does not compile:"; cat "$out"; exit 1
fi
echo "ok   ok.c compiles"
n=0
for f in "$dir"/fail_*.c; do
	n=$((n + 1))
	want=$(sed -n 's/.*expect: \(.*\)$/\1/p' "$f" | sed 's/ *\*\/$//' | head -n 1)
	name=$(basename "$f")
	if [ -z "$want" ]; then
		echo "FAIL $name: no expect: line"; status=1; continue
	fi
	if "$@" $flags "$f" >"$out" 2>&1; then
		echo "FAIL $name compiles"; status=1; continue
	fi
	if ! grep -Eq -- "$want" "$out"; then
		echo "FAIL $name fails, but not with /$want/:"; cat "$out"
		status=1; continue
	fi
	echo "ok   $name does not compile (/$want/)"
done
[ "$n" -gt 0 ] || { echo "FAIL no fail_*.c files"; exit 1; }
exit $status
