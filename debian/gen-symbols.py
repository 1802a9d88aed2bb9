#!/usr/bin/env python3
"""debian/gen-symbols.py - writes debian/libweft1.symbols from the public
headers and the version script.

    debian/gen-symbols.py [--check]

weft.map exports weft_[^_]* at its one version node (WEFT_1.0); the names
that matches are what the public headers declare (read as
test/abi/symbols.py reads them). Each is listed at that node with the
release that introduced it: a name already in the file keeps its version,
a new one gets meson.build's project version, and a name of the file that
the headers no longer declare is an error (an ABI break).
dh_makeshlibs -c4 (debian/rules) fails the package build when the library
and this file disagree; --check fails when the file is not what this
script writes from the headers.
"""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
sys.path.insert(0, os.path.join(root, "test", "abi"))
import symbols  # noqa: E402

def project_version():
    m = re.search(r"version\s*:\s*'([0-9.]+)'",
                  open(os.path.join(root, "meson.build")).read())
    return m.group(1)


def released(path):
    """{name: version} of the lines the file already has: a symbol keeps
    the release that introduced it."""
    have = {}
    if os.path.exists(path):
        for ln in open(path):
            m = re.match(r" (\S+)@\S+ (\S+)$", ln.rstrip("\n"))
            if m:
                have[m.group(1)] = m.group(2)
    return have


def text(path):
    inc, hs = symbols.public_headers(root)
    decls = symbols.declarations(symbols.preprocess(
        os.environ.get("CC", "cc").split(), inc, hs))
    names = sorted(n for n, (k, st) in decls.items()
                   if not st and re.match(r"weft_[^_]", n))
    nodes = sorted(symbols.map_nodes(root))
    if len(nodes) != 1:
        raise SystemExit("weft.map: want one version node, found %s" % nodes)
    node = nodes[0]
    have, since = released(path), project_version()
    gone = sorted(n for n in have if n != node and n not in names)
    if gone:
        raise SystemExit("symbols of a release are gone (an ABI break: "
                         "bump the soname instead): %s" % " ".join(gone))
    out = ["libweft.so.1 libweft1 #MINVER#",
           "* Build-Depends-Package: libweft-dev",
           " %s@%s %s" % (node, node, have.get(node, since))]
    out += [" %s@%s %s" % (n, node, have.get(n, since)) for n in names]
    return "\n".join(out) + "\n"


def main():
    path = os.path.join(here, "libweft1.symbols")
    t = text(path)
    if "--check" in sys.argv:
        if not os.path.exists(path) or open(path).read() != t:
            print("debian/libweft1.symbols is out of date: run "
                  "debian/gen-symbols.py")
            return 1
        print("debian/libweft1.symbols: %d symbols, up to date"
              % (t.count("\n") - 3))
        return 0
    open(path, "w").write(t)
    print("wrote %s (%d symbols)" % (path, t.count("\n") - 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
