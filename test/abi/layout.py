#!/usr/bin/env python3
"""test/abi/layout.py - the public structs keep their 1.0 layout.

    layout.py SOURCE_ROOT WORK_DIR -- CC [CC_ARGS...]     check
    layout.py SOURCE_ROOT WORK_DIR --write FILE -- CC...  write a baseline
    layout.py SOURCE_ROOT WORK_DIR --base FILE -- CC...   check against FILE

weft's futures and options are structs that programs embed in their own
frames and fill in: a program built against the 1.0 headers allocates
1.0's sizes and writes 1.0's offsets, and a 1.x library must agree. The
test compiles a program with -g that has one object of every struct the
public headers define (typedef'd or tagged), asks gdb for each one's
layout (`ptype /o`), and compares size, alignment-relevant padding and
the offset and size of every member (names are not compared: renaming a
private field changes nothing) with test/abi/layout-1.0.txt, written from
the 1.0.0 headers. A type of the baseline that is gone, or whose layout
differs, fails the test; types added since are free (they are new API).
A new member may only take what was padding: the same total size, every
1.0 member where it was, and the new one in a hole or the tail padding
(the library's _init sets it; a 1.0 program's struct has those bytes).

Exit 0 pass, 1 fail, 77 skip (gdb missing and CI unset).
"""
import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77


def struct_names(inc):
    names = set()
    for h in sorted(glob.glob(os.path.join(inc, "weft", "*.h"))):
        text = open(h).read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        # typedef struct X { ... } X;  and  struct X { ... };
        for m in re.finditer(r"\bstruct\s+(weft_[a-z0-9_]+)\s*\{", text):
            names.add(m.group(1))
    return sorted(names)


def layouts(root, work, cc):
    inc = os.path.join(root, "include")
    names = struct_names(inc)
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "layout.c")
    exe = os.path.join(work, "layout")
    with open(src, "w") as f:
        f.write("#define _GNU_SOURCE\n#include <weft.h>\n")
        for n in names:
            f.write("struct %s layout_%s;\n" % (n, n))
        f.write("int main(void) { return 0; }\n")
    r = subprocess.run(cc + ["-g", "-O0", "-I", inc, "-o", exe, src, "-c"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit("FAIL: the layout program did not compile")
    cmds = []
    for n in names:
        cmds += ["-ex", "echo @@ %s\\n" % n, "-ex", "ptype /o struct %s" % n]
    r = subprocess.run(["gdb", "-batch", "-nx"] + cmds + [exe],
                       capture_output=True, text=True)
    out, cur = {}, None
    for ln in r.stdout.splitlines():
        m = re.match(r"@@ (\S+)$", ln)
        if m:
            cur = m.group(1)
            out[cur] = []
            continue
        if cur is None:
            continue
        # "/*   16      |       8 */    void *buf;"   or  "/* XXX  4-byte hole */"
        m = re.match(r"\s*/\*\s*(\d+)(?::\s*\d+)?\s*\|\s*(\d+)\s*\*/", ln)
        if m:
            out[cur].append("%s+%s" % (m.group(1), m.group(2)))
            continue
        m = re.search(r"/\* total size \(bytes\):\s*(\d+)\s*\*/", ln)
        if m:
            out[cur].append("size=%s" % m.group(1))
    # the last "total size" is the struct's own (the others are nested
    # structs' and unions')
    return {n: " ".join(v) for n, v in out.items()}


def compatible(want, have):
    """have keeps want's layout: the same total size, every member of want
    at the same offset and size, in order, and any other member of have
    inside what was padding in want (not overlapping a member of want)."""
    w, h = want.split(), have.split()
    wsize = [x for x in w if x.startswith("size=")]
    hsize = [x for x in h if x.startswith("size=")]
    if not wsize or not hsize or wsize[-1] != hsize[-1]:
        return False
    wm = [tuple(map(int, x.split("+"))) for x in w if "+" in x]
    hm = [tuple(map(int, x.split("+"))) for x in h if "+" in x]
    it = iter(hm)
    extra = []
    for m in wm:
        for x in it:
            if x == m:
                break
            extra.append(x)
        else:
            return False
    extra += list(it)
    for off, size in extra:
        for woff, wsz in wm:
            if off < woff + wsz and woff < off + size:
                # overlaps a 1.0 member; nested members of a 1.0 member lie
                # inside it and appear in want too, so this is a new one
                return False
    return True


def main(argv):
    if "--" not in argv:
        print(__doc__)
        return 2
    k = argv.index("--")
    args, cc = argv[1:k], argv[k + 1:]
    root, work = args[0], args[1]
    write = args[3] if len(args) > 3 and args[2] == "--write" else None
    basefile = os.path.join(root, "test", "abi", "layout-1.0.txt")
    if len(args) > 3 and args[2] == "--base":
        basefile = args[3]
    if not shutil.which("gdb"):
        if os.environ.get("CI") == "true":
            print("FAIL: gdb not installed (CI=true)")
            return 1
        print("SKIP: gdb not found")
        return SKIP
    have = layouts(root, work, cc)
    if not have:
        print("FAIL: no struct read from the headers (the reader is broken)")
        return 1
    if write:
        with open(write, "w") as f:
            f.write("# test/abi/layout.py --write: offset+size of every member,"
                    " size= the struct's\n")
            for n in sorted(have):
                f.write("%s %s\n" % (n, have[n]))
        print("wrote %s (%d structs)" % (write, len(have)))
        return 0
    base = {}
    for ln in open(basefile):
        if ln.startswith("#") or not ln.strip():
            continue
        n, rest = ln.rstrip("\n").split(" ", 1)
        base[n] = rest
    bad = []
    for n, want in sorted(base.items()):
        if n not in have:
            bad.append("%s: gone from the headers" % n)
        elif not compatible(want, have[n]):
            bad.append("%s: layout changed\n    1.0: %s\n    now: %s"
                       % (n, want, have[n]))
    if bad:
        print("FAIL: public struct layouts differ from 1.0 (programs built "
              "against 1.0 headers embed these):\n  " + "\n  ".join(bad))
        return 1
    print("%d structs of 1.0 keep their layout; %d added since"
          % (len(base), len(set(have) - set(base))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
