#!/bin/sh
# test/deb/package.sh - the Debian packages build, pass lintian without
# errors, and work from a scratch root.
#
#   test/deb/package.sh SOURCE_ROOT CC
#
# Copies the source tree (the files git knows, or everything but build*
# directories) into a scratch directory, runs `dpkg-buildpackage -us -uc
# -b` there (libweft1, libweft-dev, weft-examples), runs lintian on the
# .changes (fails on errors, prints the rest), unpacks the three packages
# with `dpkg -x` into a scratch root, and then, from that root only:
# compiles examples/hello.c with the installed headers and pkg-config file
# (PKG_CONFIG_SYSROOT_DIR), runs it against the installed libweft.so.1
# (checked to be the one loaded), runs the installed example program
# hello, and formats an installed man page through one of its .so links.
# Prints the time each step took. Slow (a full build): registered only
# with -Ddeb_test=true.
#
# Exit 0 pass, 1 fail, 77 skip (dpkg-buildpackage, debhelper or lintian
# missing).
set -u
src=$1 cc=$2
for t in dpkg-buildpackage dh lintian dpkg-deb pkg-config; do
  command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 )) s] $*"; }

mkdir "$tmp/weft"
if git -C "$src" rev-parse >/dev/null 2>&1; then
  (cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 tar cf - 2>/dev/null) |
    tar xf - -C "$tmp/weft"
else
  (cd "$src" && tar cf - --exclude='./build*' .) | tar xf - -C "$tmp/weft"
fi
step "copied the source"
if ! (cd "$tmp/weft" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
  tail -40 "$tmp/build.log"
  echo "FAIL: dpkg-buildpackage -us -uc -b"
  exit 1
fi
grep -E "dpkg-gensymbols: warning" "$tmp/build.log" && bad "dpkg-gensymbols warned"
step "built: $(cd "$tmp" && ls *.deb | tr '\n' ' ')"
for p in libweft1 libweft-dev weft-examples; do
  ls "$tmp"/${p}_*.deb >/dev/null 2>&1 || bad "no $p package"
done

changes=$(ls "$tmp"/*.changes)
lintian --fail-on error --info "$changes" >"$tmp/lintian.log" 2>&1
lrc=$?
echo "lintian: $(grep -c '^E:' "$tmp/lintian.log") errors, $(grep -c '^W:' "$tmp/lintian.log") warnings, $(grep -c '^I:' "$tmp/lintian.log") info"
sed 's/^/  /' "$tmp/lintian.log"
[ $lrc = 0 ] || bad "lintian reports errors (exit $lrc)"
step "lintian"

root="$tmp/root"
for d in "$tmp"/*.deb; do dpkg -x "$d" "$root" || bad "dpkg -x $d"; done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
lib="$root/usr/lib/$ma"
[ -e "$lib/libweft.so.1" ] || bad "no libweft.so.1 in libweft1"
[ -e "$root/usr/include/weft.h" ] || bad "no weft.h in libweft-dev"
flags=$(PKG_CONFIG_SYSROOT_DIR="$root" \
  PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs weft) ||
  bad "pkg-config --cflags --libs weft"
echo "pkg-config: $flags"
case "$flags" in *"-I$root/usr/include"*) ;; *) bad "no -I into the scratch root" ;; esac
case "$flags" in *"-L$lib"*) ;; *) bad "no -L into the scratch root" ;; esac
# shellcheck disable=SC2086
$cc "$src/examples/hello.c" $flags -o "$tmp/hello" || bad "hello.c does not build against the package"
if [ -x "$tmp/hello" ]; then
  loaded=$(LD_LIBRARY_PATH="$lib" ldd "$tmp/hello" | awk '/libweft/ { print $3 }')
  [ "$loaded" = "$lib/libweft.so.1" ] || bad "hello loads '$loaded', not $lib/libweft.so.1"
  out=$(LD_LIBRARY_PATH="$lib" "$tmp/hello") || bad "hello exits non-zero"
  echo "hello: $out"
  [ "$out" = "7 squared is 49" ] || bad "hello printed '$out'"
fi
out=$("$root/usr/libexec/weft/hello") || bad "weft-examples' hello exits non-zero"
[ "$out" = "7 squared is 49" ] || bad "weft-examples' hello printed '$out'"
[ -e "$root/usr/libexec/weft/weft-bench" ] || bad "no weft-bench in weft-examples"
man3="$root/usr/share/man/man3"
[ -e "$man3/weft_sleep_init.3.gz" ] || bad "no weft_sleep_init.3.gz link page"
[ -e "$root/usr/share/man/man7/weft.7.gz" ] || bad "no weft.7.gz"
(cd "$root/usr/share/man" && zcat man3/weft_spawn.3.gz | groff -man -Tutf8 -ww -z) ||
  bad "weft_spawn(3) does not format"
step "ran hello from the scratch root"
[ $fail = 0 ] && echo PASS
exit $fail
