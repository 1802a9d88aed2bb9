#!/usr/bin/env python3
"""test/abi/symbols.py - libweft.so exports the public API and nothing else.

    symbols.py LIBWEFT_SO SOURCE_ROOT -- CC [CC_ARGS...]

The public API is what the public headers (include/weft.h and
include/weft/**.h) declare, read at test time, so the test follows the
headers when they change: the headers are run through the C preprocessor
(CC -E: comments, macro definitions and #if'd-out text gone), the text that
came from include/ is kept, and its file-scope declarations are read:
non-static functions and extern objects. static inline functions and
typedefs are not symbols.

Fails when
  - libweft.so defines a dynamic symbol that the headers do not declare
    (internals, test hooks, anything else), or with the wrong kind
    (a declared function exported as an object or the other way round);
  - a function or extern object the headers declare is not exported;
  - an exported symbol is not at a version node of weft.map (WEFT_1.0
    today) as its default version (objdump -T);
  - nothing was read from the headers (the reader is broken).
Local symbols in the dynamic table (gold puts static TLS variables there)
are listed, not judged: nothing outside can bind to them.

Exit 0 pass, 1 fail, 77 skip (meson's convention): skips when the shared
library or binutils (nm, objdump) is not there.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

KEYWORDS = set("""
auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof
static struct switch typedef union unsigned void volatile while _Alignas
_Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert
_Thread_local __inline __inline__ __restrict __restrict__ __const __const__
__volatile__ __signed__ __extension__ __typeof__ __typeof typeof __alignof__
__thread __builtin_va_list __int128 _Float128 _Float64 _Float32
__builtin_offsetof static_assert
""".split())
# Followed by a parenthesised argument that is not a declarator.
PAREN_SKIP = {"__attribute__", "__attribute", "__asm__", "__asm", "asm",
              "__declspec", "_Alignas", "__typeof__", "__typeof", "typeof",
              "_Atomic", "__extension__"}

TOKEN = re.compile(r'''
    (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<id>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*)
  | (?P<punct>\.\.\.|->|[^\sA-Za-z_0-9])
''', re.X)


def fail_usage():
    print("usage: symbols.py LIBWEFT_SO SOURCE_ROOT -- CC [ARGS...]",
          file=sys.stderr)
    sys.exit(2)


def public_headers(root):
    inc = os.path.join(root, "include")
    hs = [os.path.join(inc, "weft.h")] if os.path.exists(
        os.path.join(inc, "weft.h")) else []
    hs += sorted(glob.glob(os.path.join(inc, "weft", "**", "*.h"),
                           recursive=True))
    return inc, hs


def preprocess(cc, inc, headers):
    """The headers' own text after preprocessing (system headers left out)."""
    src = "".join('#include "%s"\n' % h for h in headers)
    r = subprocess.run(cc + ["-E", "-D_GNU_SOURCE", "-I", inc, "-x", "c", "-"],
                       input=src, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        raise SystemExit("FAIL: the preprocessor failed on the headers")
    inc_real = os.path.realpath(inc) + os.sep
    keep, out = False, []
    marker = re.compile(r'^#\s*(?:line\s+)?\d+\s+"((?:\\.|[^"\\])*)"')
    for line in r.stdout.splitlines():
        m = marker.match(line)
        if m:
            path = m.group(1).encode().decode("unicode_escape")
            keep = os.path.realpath(path).startswith(inc_real)
            continue
        if line.startswith("#"):    # #pragma and the like
            continue
        if keep:
            out.append(line)
    return "\n".join(out)


def tokens(text):
    for m in TOKEN.finditer(text):
        if m.group("str"):
            yield '""'
        else:
            yield m.group(0)


def chunks(toks):
    """File-scope declarations, one token list each. Brace bodies become
    '{}'; a function definition ends at its closing brace."""
    cur, i, n = [], 0, len(toks)
    while i < n:
        t = toks[i]
        if t == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(toks[j], 0)
                j += 1
            head = strip_extras(cur)
            is_fn_body = bool(head) and head[-1] == ")" and "=" not in head
            cur.append("{}")
            i = j
            if is_fn_body:
                yield cur
                cur = []
            continue
        if t == ";":
            if cur:
                yield cur
            cur = []
        else:
            cur.append(t)
        i += 1
    if cur:
        yield cur


def strip_extras(ch):
    """Drops __attribute__((...)), asm(...) and the like."""
    out, i = [], 0
    while i < len(ch):
        if ch[i] in PAREN_SKIP and i + 1 < len(ch) and ch[i + 1] == "(":
            depth, j = 1, i + 2
            while j < len(ch) and depth:
                depth += {"(": 1, ")": -1}.get(ch[j], 0)
                j += 1
            i = j
            continue
        if ch[i] in ("__extension__",):
            i += 1
            continue
        out.append(ch[i])
        i += 1
    return out


def split_declarators(ch):
    parts, cur, depth = [], [], 0
    for t in ch:
        if t == "(" or t == "[":
            depth += 1
        elif t == ")" or t == "]":
            depth -= 1
        if t == "," and depth == 0:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def is_name(t):
    return re.match(r"[A-Za-z_]\w*$", t) and t not in KEYWORDS


def declarations(text):
    """name -> (kind, static) for the file-scope declarations in text."""
    decls = {}
    toks = list(tokens(text))
    for ch in chunks(toks):
        ch = strip_extras(ch)
        if not ch or "typedef" in ch or ch[0] in ("_Static_assert",
                                                  "static_assert"):
            continue
        static = "static" in ch
        extern = "extern" in ch
        for k, d in enumerate(split_declarators(ch)):
            # the first name followed by '(' names a function declarator
            # (not a type before a parenthesised declarator: T (*f(...)))
            fn = None
            for a, b, c in zip(d, d[1:], d[2:] + [""]):
                if b == "(" and is_name(a) and c not in ("*", "^", "("):
                    fn = a
                    break
            if fn:
                decls[fn] = ("function", static)
                continue
            if not extern:
                continue    # struct tags, enum bodies: not symbols
            # an extern object: the last name before '=' or '['
            stop = len(d)
            for s, t in enumerate(d):
                if t in ("=", "["):
                    stop = s
                    break
            names = [t for t in d[:stop] if is_name(t)]
            if "(" in d[:stop]:     # (*name) declarators
                names = [t for t in d[d.index("("):stop] if is_name(t)][:1]
            if names:
                decls[names[-1]] = ("object", static)
    return decls


def dynamic_symbols(lib):
    """name -> nm type letter, for the defined dynamic symbols (local ones
    included: lower-case letters but u and i)."""
    r = subprocess.run(["nm", "-D", "--defined-only", "-P", lib],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("FAIL: nm -D %s: %s" % (lib, r.stderr.strip()))
    syms = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        syms[f[0].split("@")[0]] = f[1]
    return syms


def symbol_versions(lib):
    """name -> version column of objdump -T, for the defined symbols."""
    r = subprocess.run(["objdump", "-T", lib], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("FAIL: objdump -T %s: %s" % (lib, r.stderr.strip()))
    vers = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 5 or not re.match(r"[0-9a-f]{8,}$", f[0]):
            continue
        if "*UND*" in f:
            continue
        vers[f[-1]] = f[-2]
    return vers


def map_nodes(root):
    path = os.path.join(root, "weft.map")
    try:
        text = open(path).read()
    except OSError:
        return set()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"#.*", "", text)
    return set(re.findall(r"([A-Za-z_][\w.]*)\s*\{", text))


def main(argv):
    if "--" not in argv or argv.index("--") != 3:
        fail_usage()
    lib, root, cc = argv[1], argv[2], argv[4:]
    if not cc:
        fail_usage()
    if not os.path.exists(lib):
        print("SKIP: no shared library at %s" % lib)
        return SKIP
    for tool in ("nm", "objdump"):
        if not shutil.which(tool):
            print("SKIP: %s not found (binutils)" % tool)
            return SKIP

    inc, headers = public_headers(root)
    decls = declarations(preprocess(cc, inc, headers))
    public = {n: k for n, (k, st) in decls.items() if not st}
    inline = sorted(n for n, (k, st) in decls.items() if st)
    syms = dynamic_symbols(lib)
    vers = symbol_versions(lib)
    nodes = map_nodes(root)

    bad = []
    nfuncs = sum(1 for k in public.values() if k == "function")
    if nfuncs == 0:
        bad.append("read no function declarations from %d headers under %s"
                   % (len(headers), inc))
    if not nodes:
        bad.append("no version node found in %s/weft.map" % root)

    exported = {}
    for name, typ in sorted(syms.items()):
        if typ == "A" and name in nodes:
            continue    # the version definition itself
        if typ.islower() and typ not in "ui":
            # a local symbol in .dynsym (gold puts static TLS variables
            # there for their relocations): not bindable from outside
            print("note: local dynamic symbol, not exported: %s (%s)"
                  % (name, typ))
            continue
        exported[name] = typ
        kind = public.get(name)
        if kind is None:
            why = ("a static inline function of a header" if name in inline
                   else "not declared in the public headers")
            bad.append("exported, %s: %s (%s)" % (why, name, typ))
        elif kind == "function" and typ not in "TWi":
            bad.append("declared as a function, exported as type %s: %s"
                       % (typ, name))
        elif kind == "object" and typ not in "DBRGSVu":
            bad.append("declared as an object, exported as type %s: %s"
                       % (typ, name))
        v = vers.get(name)
        if v not in nodes:
            bad.append("exported without a default version of weft.map "
                       "(%s): %s has %s" % (", ".join(sorted(nodes)) or "none",
                                            name, v))
    for name, kind in sorted(public.items()):
        if name not in exported:
            bad.append("declared in the public headers, not exported: "
                       "%s %s" % (kind, name))

    print("%d public declarations (%d functions) in %d headers, %d static "
          "inline; %d symbols exported from %s at %s"
          % (len(public), nfuncs, len(headers), len(inline), len(exported),
             os.path.basename(lib), ", ".join(sorted(nodes))))
    if bad:
        for b in bad:
            print("FAIL: " + b)
        print("%d problem(s)" % len(bad))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
