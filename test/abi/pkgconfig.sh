#!/bin/sh
# test/abi/pkgconfig.sh - an install found through pkg-config builds and
# runs a program against libweft.so, wherever the install tree is put.
#
#   test/abi/pkgconfig.sh BUILD_ROOT PREFIX LIBDIR INCLUDEDIR SANITIZE -- CC [CC_ARGS...]
#
# Installs BUILD_ROOT (meson install --no-rebuild) into a scratch DESTDIR,
# finds the installed weft.pc and asks pkg-config --define-prefix for
# --cflags and --libs through PKG_CONFIG_PATH=<its directory>: every -I/-L
# of weft must lie in the scratch tree and exist (one -I holding weft.h, one
# -L holding libweft.so), none may be the configured LIBDIR or INCLUDEDIR
# (absolute: the relocation did not happen). Then compiles a program that includes
# <weft.h> and takes the address of one function of the API (a function
# that libweft.so exports and the installed headers declare, picked at test
# time), links it with those flags (plus -fsanitize=SANITIZE when the build
# is sanitized, which the library then needs), checks that it resolves
# libweft.so from the scratch tree and runs it.
#
# With PREFIX /usr, weft.pc keeps absolute paths (meson.build says why) and
# the staged tree is reached the way distributions do it, with
# PKG_CONFIG_SYSROOT_DIR, instead of --define-prefix.
#
# Paths outside the scratch tree that come from weft's dependencies
# (Requires.private: liburing, jemalloc) are listed, not judged: --define-
# prefix relocates the system's multiarch .pc files wrongly too
# (-I/usr/lib/include), which is theirs to fix and harmless (a missing -I
# directory is ignored).
#
# Exit 0 pass, 1 fail, 77 skip (no pkg-config, no shared library).
set -u

usage="usage: pkgconfig.sh BUILD_ROOT PREFIX LIBDIR INCLUDEDIR SANITIZE -- CC [ARGS...]"
[ $# -ge 7 ] && [ "$6" = "--" ] || { echo "$usage" >&2; exit 2; }
build=$1 prefix=$2 cfg_libdir=$3 cfg_incdir=$4 sanitize=$5
shift 6
[ $# -gt 0 ] || { echo "no compiler given" >&2; exit 2; }

command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config not found"; exit 77; }
command -v nm >/dev/null 2>&1 || { echo "SKIP: nm not found"; exit 77; }
[ -e "$build/libweft.so" ] || { echo "SKIP: $build/libweft.so not built"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/root"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: meson install --destdir $dest"
  exit 1
fi

pcs=$(find "$dest" -name weft.pc)
[ -n "$pcs" ] || { echo "FAIL: no weft.pc installed under $dest"; exit 1; }
[ "$(echo "$pcs" | wc -l)" -eq 1 ] || { echo "FAIL: more than one weft.pc: $pcs"; exit 1; }
pcdir=$(dirname "$pcs")
echo "weft.pc: ${pcs#"$dest"}"

if [ "$prefix" = /usr ]; then
  how="PKG_CONFIG_SYSROOT_DIR=$dest"
  pc() { PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config "$@"; }
else
  how="--define-prefix"
  pc() { PKG_CONFIG_PATH="$pcdir" pkg-config --define-prefix "$@"; }
fi
if ! cflags=$(pc --cflags weft) || ! libs=$(pc --libs weft); then
  echo "FAIL: pkg-config $how --cflags/--libs weft"
  exit 1
fi
echo "pkg-config $how --cflags: $cflags"
echo "pkg-config $how --libs: $libs"

incdir="" libdir=""
for f in $cflags $libs; do
  case "$f" in
    -I*) p=${f#-I} ;;
    -L*) p=${f#-L} ;;
    *) continue ;;
  esac
  case "$p" in
    "$dest"/*)
      if [ ! -d "$p" ]; then
        bad "$f: no such directory"
        continue
      fi
      case "$f" in
        -I*) [ -f "$p/weft.h" ] && incdir=$p ;;
        -L*) [ -e "$p/libweft.so" ] && libdir=$p ;;
      esac ;;
    "$cfg_libdir"|"$cfg_libdir/"|"$cfg_incdir"|"$cfg_incdir/")
      bad "$f: the configured directory, not the install tree" ;;
    *) echo "note: $f (outside the install tree: a dependency's)" ;;
  esac
done
[ -n "$incdir" ] || bad "no -I directory in the install tree holds weft.h"
[ -n "$libdir" ] || bad "no -L directory in the install tree holds libweft.so"
case " $libs " in *" -lweft "*) ;; *) bad "--libs has no -lweft" ;; esac
[ "$fail" -eq 0 ] || exit 1

# One function of the API: exported by the installed library and declared
# in the installed headers (so the test follows renames).
fn=""
for s in $(nm -D --defined-only -P "$libdir/libweft.so" |
             awk '$2 == "T" && $1 ~ /^weft_[a-z0-9]/ { sub(/@.*/, "", $1); print $1 }' | sort); do
  if grep -rqw "$s" "$incdir/weft.h" "$incdir/weft"; then
    fn=$s
    break
  fi
done
[ -n "$fn" ] || { echo "FAIL: no exported function of libweft.so is declared in the installed headers"; exit 1; }

cat >"$tmp/app.c" <<EOF
#include <weft.h>

int main(void)
{
	/* the address of $fn: resolved from libweft.so at load */
	void (*volatile p)(void) = (void (*)(void))$fn;
	return p != 0 ? 0 : 1;
}
EOF
san=""
[ "$sanitize" = none ] || san="-fsanitize=$sanitize"
# shellcheck disable=SC2086 # word splitting of the flags is intended
if ! "$@" $san $cflags "$tmp/app.c" -o "$tmp/app" $libs >"$tmp/cc.log" 2>&1; then
  cat "$tmp/cc.log"
  echo "FAIL: compiling and linking a program with \$(pkg-config $how --cflags --libs weft)"
  exit 1
fi
if command -v ldd >/dev/null 2>&1; then
  where=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/app" | awk '$1 ~ /^libweft\.so/ { print $3 }')
  case "$where" in
    "$dest"/*) echo "app resolves libweft.so from the install tree: ${where#"$dest"}" ;;
    *) bad "app resolves libweft.so as '$where', not from $dest" ;;
  esac
fi
LD_LIBRARY_PATH="$libdir" "$tmp/app"
rc=$?
[ "$rc" -eq 0 ] || bad "the program linked against the installed libweft.so exited $rc"
[ "$fail" -eq 0 ] && echo "PASS (program takes &$fn)"
exit "$fail"
