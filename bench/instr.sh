#!/bin/sh
# bench/instr.sh [weft-instr] - callgrind instruction counts per operation
# of the scheduler's hot paths (see bench/instr.c). Repeatable: the same
# binary gives the same counts whatever the machine is doing.
set -eu
bin=${1:-build-rel/bench/weft-instr}
small=20000
large=40000
count() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for op in spawn wake pingpong futset; do
	a=$(count $op $small)
	b=$(count $op $large)
	echo "$op: $(( (b - a) / (large - small) )) instructions per operation"
done
