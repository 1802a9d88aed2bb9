#!/bin/sh
# examples/readme.sh README.md hello.c - README's first program is
# examples/hello.c: the first ```c block of README.md must be hello.c
# without its first line (the file comment). Fails with a diff otherwise.
readme=$1
hello=$2
got=$(mktemp)
want=$(mktemp)
trap 'rm -f "$got" "$want"' EXIT
awk '/^```c$/ && !done { on = 1; next } /^```$/ && on { on = 0; done = 1 }
     on { print }' "$readme" >"$got"
tail -n +2 "$hello" >"$want"
if ! diff -u "$want" "$got"; then
	echo "readme.sh: README.md's first program differs from $hello" >&2
	exit 1
fi
