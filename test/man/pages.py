#!/usr/bin/env python3
"""test/man/pages.py - every public name has a man page, every page names
something that exists, the pages are what man/gen.py writes from today's
headers, and each one formats without a warning.

    pages.py SOURCE_ROOT [--build BUILD_ROOT] -- CC [CC_ARGS...]

Reads the committed pages (SOURCE_ROOT/man/man3, man7), not gen.py's
output, so a page left behind by a header change is caught here too:
  1. drift: `man/gen.py --check` finds each page identical to what the
     headers give now (no page missing, none extra, none edited by hand);
  2. coverage: every function and object that the public headers declare
     (the extraction of test/abi/symbols.py: the preprocessed headers'
     non-static file-scope declarations) and every future type
     (WEFT_FUTURE_EXTERN(T)) is named in the NAME section of a page;
  3. no dead names: every name in a NAME section is something the headers
     declare (a function, an object, a static inline function, a typedef,
     a #define'd macro or a future type);
  4. links: each .so page points at a page with text in the same tree;
  5. lint: `mandoc -T lint -W warning` and `groff -man -ww -z` (each if
     installed; skip when neither is) report nothing for any page;
  6. with --build BUILD_ROOT: `meson install --destdir` of that build into
     a scratch directory installs the same files in <mandir>/man3 and
     <mandir>/man7 (found as the directory holding man7/weft.7).

Exit 0 pass, 1 fail, 77 skip (no formatter at all).
"""
import glob
import os
import re
import shutil
import subprocess
import sys


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    k = argv.index("--")
    args, cc = argv[1:k], argv[k + 1:]
    root = args[0]
    build = None
    if "--build" in args:
        build = args[args.index("--build") + 1]
    man = os.path.join(root, "man")
    bad = []

    # 1. drift
    env = dict(os.environ, CC=" ".join(cc))
    r = subprocess.run([sys.executable, os.path.join(man, "gen.py"),
                        "--root", root, "--check", man],
                       capture_output=True, text=True, env=env)
    print(r.stdout.strip())
    if r.returncode != 0:
        print(r.stderr.strip())
        bad.append("man/gen.py --check: the pages differ from the headers")

    # the pages: name -> (file, text or None), links: file -> target
    pages, links, named = {}, {}, {}
    files = sorted(glob.glob(os.path.join(man, "man3", "*.3")) +
                   glob.glob(os.path.join(man, "man7", "*.7")))
    if not files:
        bad.append("no pages under %s" % man)
    for f in files:
        text = open(f).read()
        rel = os.path.relpath(f, man)
        m = re.match(r"\.so\s+(\S+)\s*$", text)
        if m:
            links[rel] = m.group(1)
            continue
        pages[rel] = text
        nm = re.search(r"^\.SH NAME\n(.*?)(?:\\-| \\- )", text, re.M | re.S)
        if not nm:
            bad.append("%s: no NAME section" % rel)
            continue
        for n in re.split(r",\s*", nm.group(1).replace("\\-", "-").strip()):
            n = n.strip().replace("\\e", "\\")
            if n:
                named.setdefault(n, rel)
    for rel, target in sorted(links.items()):
        if target not in pages:
            bad.append("%s: .so %s, not a page with text" % (rel, target))
        base = os.path.splitext(os.path.basename(rel))[0]
        if named.get(base) != target:
            bad.append("%s: links to %s, whose NAME does not list %s"
                       % (rel, target, base))

    # 2. coverage, with symbols.py's reading of the headers
    sys.path.insert(0, os.path.join(root, "test", "abi"))
    import symbols
    inc, headers = symbols.public_headers(root)
    decls = symbols.declarations(symbols.preprocess(cc, inc, headers))
    public = {n for n, (kind, st) in decls.items() if not st}
    inline = {n for n, (kind, st) in decls.items() if st}
    raw = "\n".join(open(h).read() for h in headers)
    futures = set(re.findall(r"^\s*WEFT_FUTURE_EXTERN\((\w+)\)\s*;", raw, re.M))
    if not public or not futures:
        bad.append("read no declarations or no future types from the headers")
    for n in sorted(public | futures):
        if n not in named:
            bad.append("public, on no page: %s" % n)
    # 3. dead names
    macros = set(re.findall(r"^\s*#\s*define\s+(\w+)", raw, re.M))
    types = set(re.findall(r"\btypedef\b[^;]*?\b(\w+)\s*;", raw)) | \
        set(re.findall(r"\}\s*(\w+)\s*;", raw))
    known = public | inline | futures | macros | types | {"weft"}
    for n, rel in sorted(named.items()):
        if n not in known:
            bad.append("%s names %s, which the headers do not declare"
                       % (rel, n))

    # 5. lint
    tools = []
    if shutil.which("mandoc"):
        tools.append(["mandoc", "-T", "lint", "-W", "warning"])
    if shutil.which("groff"):
        tools.append(["groff", "-man", "-Tutf8", "-rLL=78n", "-ww", "-z"])
    for rel in sorted(pages):
        for t in tools:
            r = subprocess.run(t + [rel], cwd=man, capture_output=True,
                               text=True)
            out = (r.stdout + r.stderr).strip()
            if r.returncode != 0 or out:
                bad.append("%s: %s: %s" % (t[0], rel, out or
                                           "exit %d" % r.returncode))

    # 6. the install
    if build:
        import tempfile
        tmp = tempfile.mkdtemp()
        r = subprocess.run(["meson", "install", "-C", build, "--no-rebuild",
                            "--quiet", "--destdir", tmp],
                           capture_output=True, text=True)
        found = glob.glob(os.path.join(tmp, "**", "man7", "weft.7"),
                          recursive=True)
        if r.returncode != 0 or len(found) != 1:
            bad.append("meson install --destdir: %s, weft.7 at %s"
                       % (r.stderr.strip() or "exit %d" % r.returncode,
                          found))
            found = [os.path.join(tmp, "man7", "weft.7")]
        installed = os.path.dirname(os.path.dirname(found[0]))
        print("installed pages under %s" % os.path.relpath(installed, tmp))
        want = set(os.path.relpath(f, man) for f in files)
        got = set(os.path.relpath(f, installed) for f in
                  glob.glob(os.path.join(installed, "man3", "*")) +
                  glob.glob(os.path.join(installed, "man7", "*")))
        for x in sorted(want - got):
            bad.append("not installed: %s" % x)
        for x in sorted(got - want):
            bad.append("installed, not a page of man/: %s" % x)
        shutil.rmtree(tmp)

    print("%d pages with text, %d .so links; %d names, %d public symbols "
          "and future types; linted with %s"
          % (len(pages), len(links), len(named), len(public | futures),
             " and ".join(t[0] for t in tools) or "nothing"))
    if bad:
        for b in bad:
            print("FAIL: " + b)
        return 1
    if not tools:
        print("SKIP: neither mandoc nor groff is installed")
        return 77
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
