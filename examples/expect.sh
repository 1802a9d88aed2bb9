#!/bin/sh
# examples/expect.sh PROGRAM [PATTERN...] - the test of an example: runs
# PROGRAM, prints its output, and passes when it exits 0 and its output has
# a line matching each PATTERN (grep -E).
prog=$1
shift
out=$("$prog" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
	echo "expect.sh: $prog exited $rc" >&2
	exit 1
fi
for pat in "$@"; do
	if ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		echo "expect.sh: no line matches: $pat" >&2
		exit 1
	fi
done
