#!/usr/bin/env bash
# test/abi/pedantic.sh - the public headers from ISO C11 with -Wpedantic
# and from C++17, with every compiler installed, warnings as errors.
#
#   pedantic.sh --src ROOT --work DIR [--link LIBWEFT_A [LINK_ARGS...]]
#
# With each C compiler (gcc, clang; override with WEFT_ABI_CC):
#   every public header (include/weft.h, include/weft/*.h), alone in a
#   translation unit and included twice:
#     -std=c11 -Wall -Wextra -Wpedantic -Werror
#   test/abi/pedantic.c (every async-body macro), at -O0 and -O2 -DNDEBUG.
# With each C++ compiler (g++, clang++; override with WEFT_ABI_CXX):
#   every public header the same way, -std=c++17 -Wall -Wextra -Wpedantic
#   -Werror, and test/abi/cxx.cc at -O0 and -O2 -DNDEBUG.
# With --link, each program is also linked against LIBWEFT_A (with
# LINK_ARGS: -luring -pthread ...) and run; meson passes it in builds
# without sanitizers or LTO, where an object from any of the compilers
# links against the library (a sanitized or LTO library links only with
# its own compiler; meson builds and runs test-abi-cxx and
# test-abi-pedantic there).
#
# A compiler that is not installed is skipped with a message, except
# under CI=true (.ci/run), where it fails the test: CI must try all four.
# Exits 1 when any compilation warns or fails or any program fails, after
# printing every failing command with its output.
set -uo pipefail

src="" work="" lib="" link_args=()
while (($#)); do
  case "$1" in
    --src) src=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --link) lib=$2; shift 2; link_args=("$@"); break ;;
    *) echo "usage: pedantic.sh --src ROOT --work DIR [--link LIBWEFT_A [LINK_ARGS...]]" >&2; exit 2 ;;
  esac
done
[ -n "$src" ] && [ -n "$work" ] || { echo "pedantic.sh: --src and --work are required" >&2; exit 2; }
mkdir -p "$work" || exit 2

read -r -a ccs <<<"${WEFT_ABI_CC:-gcc clang}"
read -r -a cxxs <<<"${WEFT_ABI_CXX:-g++ clang++}"
warn=(-Wall -Wextra -Wpedantic -Werror)
inc=(-I"$src/include")
headers=(weft.h)
for h in "$src"/include/weft/*.h; do headers+=("weft/${h##*/}"); done

failures=0 checks=0 skipped=()

# check DESCRIPTION CMD...: runs CMD; any output (a warning) or a non-zero
# status is a failure.
check() {
  local what=$1 out rc
  shift
  checks=$((checks + 1))
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    failures=$((failures + 1))
    echo "FAIL: $what (exit $rc)"
    echo "  \$ $*"
    printf '%s\n' "$out" | head -n 40 | sed 's/^/  | /'
  fi
}

# run_prog DESCRIPTION EXE: the program must exit 0 (it checks itself).
run_prog() {
  local what=$1 out rc
  checks=$((checks + 1))
  out=$("$2" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    failures=$((failures + 1))
    echo "FAIL: $what exited $rc"
    printf '%s\n' "$out" | head -n 40 | sed 's/^/  | /'
  fi
}

# one COMPILER LANG STD PROGRAM
one() {
  local c=$1 lang=$2 std=$3 prog=$4 name h tu opt obj exe
  if ! command -v "$c" >/dev/null 2>&1; then
    skipped+=("$c")
    return
  fi
  name=${c//[^A-Za-z0-9]/_}
  for h in "${headers[@]}"; do
    tu="$work/hdr-$lang.$([ "$lang" = c ] && echo c || echo cc)"
    printf '#include <%s>\n#include <%s>\n' "$h" "$h" >"$tu"
    check "<$h> with $c -std=$std" \
      "$c" -x "$lang" -std="$std" "${warn[@]}" "${inc[@]}" -c "$tu" -o /dev/null
  done
  for opt in "-O0" "-O2 -DNDEBUG"; do
    obj="$work/${prog##*/}-$name${opt//[^A-Za-z0-9]/}.o"
    # shellcheck disable=SC2086 # opt is two words on purpose
    check "${prog#"$src"/} with $c -std=$std $opt" \
      "$c" -x "$lang" -std="$std" $opt "${warn[@]}" "${inc[@]}" -c "$prog" -o "$obj"
    [ -n "$lib" ] && [ -f "$obj" ] || continue
    exe=${obj%.o}
    check "linking ${prog#"$src"/} ($c $opt)" "$c" -o "$exe" "$obj" "$lib" "${link_args[@]}"
    [ -x "$exe" ] && run_prog "${prog#"$src"/} built by $c $opt" "$exe"
  done
}

for c in "${ccs[@]}"; do one "$c" c c11 "$src/test/abi/pedantic.c"; done
for c in "${cxxs[@]}"; do one "$c" c++ c++17 "$src/test/abi/cxx.cc"; done

for c in "${skipped[@]}"; do
  if [ "${CI:-}" = "true" ]; then
    failures=$((failures + 1))
    echo "FAIL: $c is not installed (CI=true: every compiler is required)"
  else
    echo "SKIP: $c is not installed"
  fi
done
echo "pedantic.sh: $checks checks, $failures failed${lib:+ (programs linked and run)}"
[ $failures -eq 0 ]
