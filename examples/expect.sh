#!/bin/sh
# examples/expect.sh PROGRAM [ARG...] [--expect PATTERN...] - the test of
# an example: runs PROGRAM with the ARGs, prints its output, and passes
# when it exits 0 and its output has a line matching each PATTERN
# (grep -E).
prog=$1
shift
pats=$(mktemp)
trap 'rm -f "$pats"' EXIT
seen=
# keep the program's arguments in "$@", the patterns in $pats
for a in "$@"; do
	shift
	if [ -n "$seen" ]; then
		printf '%s\n' "$a" >>"$pats"
	elif [ "$a" = "--expect" ]; then
		seen=1
	else
		set -- "$@" "$a"
	fi
done
out=$("$prog" "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
	echo "expect.sh: $prog exited $rc" >&2
	exit 1
fi
while IFS= read -r pat; do
	if ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		echo "expect.sh: no line matches: $pat" >&2
		exit 1
	fi
done <"$pats"
exit 0
