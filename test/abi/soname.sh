#!/bin/sh
# test/abi/soname.sh - the shared library's soname follows the API version:
# libweft.so.<MAJOR> for meson.build's version MAJOR.MINOR.PATCH, the one
# version node of weft.map is WEFT_<MAJOR>.0, and weft_version is exported
# at that node.
#
#   test/abi/soname.sh LIBWEFT_SO WEFT_MAP VERSION
#
# Exit 0 pass, 1 fail, 77 skip (no readelf/objdump or no shared library).
set -u
lib=$1 map=$2 version=$3
command -v readelf >/dev/null 2>&1 && command -v objdump >/dev/null 2>&1 ||
  { echo "SKIP: binutils (readelf, objdump) not found"; exit 77; }
[ -e "$lib" ] || { echo "SKIP: no shared library at $lib"; exit 77; }
major=${version%%.*}
fail=0
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
echo "version $version, soname $soname"
[ "$soname" = "libweft.so.$major" ] ||
  { echo "FAIL: soname '$soname', want libweft.so.$major"; fail=1; }
nodes=$(sed 's|/\*.*\*/||' "$map" | grep -v '^ *\*' | sed -n 's/^\(WEFT_[0-9.]*\) *{.*/\1/p')
echo "weft.map nodes: $nodes"
[ "$nodes" = "WEFT_$major.0" ] ||
  { echo "FAIL: weft.map's nodes '$nodes', want WEFT_$major.0 alone"; fail=1; }
objdump -T "$lib" | grep -q "WEFT_$major\.0 *weft_version\$" ||
  { echo "FAIL: weft_version not exported at WEFT_$major.0"; fail=1; }
[ $fail = 0 ] && echo PASS
exit $fail
