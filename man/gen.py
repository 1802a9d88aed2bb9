#!/usr/bin/env python3
"""man/gen.py - writes weft's man pages from the public headers' comments.

    gen.py [--root DIR] [--out DIR]      write DIR/man3/*.3 and DIR/man7/weft.7
    gen.py [--root DIR] --check DIR      compare DIR with what would be written
                                         (exit 1 and name the files that differ)

The pages are generated, never edited: edit the comment in include/weft/*.h
and run `python3 man/gen.py` (it writes man/man3 and man/man7 of the
source tree). test man/pages runs --check, so a header and its page cannot
drift. An EXAMPLE that changed in the source tree only (code edited near a
quoted use) is reported as a note, not a failure: it names its file, not a
line, and is refreshed at the next run.

What becomes a page (section 3):
  - a future type T (WEFT_FUTURE_EXTERN(T) in a header) with T_future and
    its functions T_init, T_<variant>_init, T_poll, T_drop, T_reset: one
    page named T;
  - every other exported function: a page of its own;
  - the rest of a header section (the "/* ---- name */" separators): its
    static inline functions, macros and types, one page named after the
    section's first name.
Every other name of a page gets a one-line ".so" page pointing at it.

Where the text of each section comes from:
  NAME         the page's names and the first sentence of its first comment
  SYNOPSIS     the header and the declarations, as written there
  DESCRIPTION  the comments in front of the type, its fields and each
               function, in header order; paragraphs of a comment that
               start with "Cancellation" or "Threads" go to NOTES instead
  RETURN VALUE what the functions return; for a future its res field; the
               list of every negative errno the page's comments name
  ERRORS       each such errno with the sentences that name it (a future's
               page also takes the errnos of its header's file comment)
  NOTES        the Cancellation and Threads paragraphs of the comments and
               of the header's file comment (a page without a Threads
               paragraph is an error), plus the drop rule of every future
  EXAMPLE      the first use of one of the page's names in examples/,
               bench/, test/ or the library (in that order), a few lines
               around it, with its file's name
  SEE ALSO     weft(7), the pages the comments name, the header's pages
The overview, weft(7), is core.h's and weft.h's file comments, the list of
pages per header, and the text of OVERVIEW below.

Fails (exit 1) when an exported function has no comment, when a page has no
Threads note, or when a page would have no example.
"""
import argparse
import glob
import os
import re
import sys

DATE = "2026-12-01"     # fixed, so that the output does not depend on the day
def project_version(root):
    """meson.build's project version, for the pages' footer."""
    m = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'",
                  open(os.path.join(root, "meson.build")).read(), re.S)
    return m.group(1) if m else "unknown"


SOURCE = "weft"         # + the project version, set in generate()
MANUAL = "weft manual"

OVERVIEW = """\
weft is a multi-threaded, work-stealing async task runtime for C11 on Linux,
built on io_uring, with the model of Rust's tokio: a task is a future (a
struct, its frame, and a poll function) that a runtime polls until it is
ready; an await that cannot complete returns WEFT_PENDING after arranging
a wake-up, and the task is polled again when it is woken.

Reading a page: SYNOPSIS gives the header and the declarations as the header
has them. For a future the page is named after its type T and describes
T_init (prepare; cannot fail), T_poll (WEFT_PENDING or WEFT_READY) and
T_drop (cancel and release); RETURN VALUE says what the res field holds
after WEFT_READY and lists every negative errno, ERRORS says when each one
comes. NOTES says what dropping a future at each point does (cancellation
safety) and which calls may come from which threads. The pages are written
from the comments of the headers by man/gen.py; the headers are the
reference, docs/guide.md the tutorial."""

FUTURE_SUFFIX = re.compile(r"^(?:init|poll|drop|reset|future|[a-z0-9_]+_init)$")
SECTION = re.compile(r"^/\*\s*-{4,}\s*([^*]*?)\s*\*/$")
ERRNO = re.compile(r"-(E[A-Z0-9]+)\b")


def die(msg):
    print("man/gen.py: " + msg, file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------- the headers

def strip_cplusplus(lines):
    """Drops the C++-only branches (#ifdef __cplusplus ... #else/#endif)."""
    out, stack = [], []      # stack of (skipping, is_cplusplus_block)
    for line in lines:
        s = line.strip()
        skipping = any(sk for sk, _ in stack)
        if re.match(r"#\s*if", s):
            cpp = bool(re.match(r"#\s*ifdef\s+__cplusplus\b", s))
            ncpp = bool(re.match(r"#\s*ifndef\s+__cplusplus\b", s))
            if cpp or ncpp:
                stack.append((cpp, True))
                continue
            stack.append((False, False))
        elif re.match(r"#\s*else\b", s) and stack and stack[-1][1]:
            stack[-1] = (not stack[-1][0], True)
            continue
        elif re.match(r"#\s*endif\b", s) and stack:
            _, iscpp = stack.pop()
            if iscpp:
                continue
        if not skipping:
            out.append(line)
    return out


def items(path):
    """The header as a list of dicts: comment / pp / code items, with the
    line where each starts and ends."""
    lines = strip_cplusplus(open(path).read().split("\n"))
    text = "\n".join(lines)
    res, i, n = [], 0, len(text)

    def line_of(pos):
        return text.count("\n", 0, pos) + 1
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("/*", i):
            j = text.index("*/", i) + 2
            res.append(dict(kind="comment", text=text[i:j], a=line_of(i),
                            b=line_of(j)))
            i = j
            continue
        if text.startswith("//", i):
            i = text.find("\n", i)
            continue
        if c == "#":
            j = i
            while True:
                e = text.find("\n", j)
                if e < 0:
                    e = n
                if text[e - 1] == "\\" and e < n:
                    j = e + 1
                    continue
                break
            res.append(dict(kind="pp", text=text[i:e], a=line_of(i),
                            b=line_of(e)))
            i = e
            continue
        # a statement: to ';' at depth 0, or a function body's '}'
        j, depth = i, 0
        while j < n:
            if text.startswith("/*", j):
                j = text.index("*/", j) + 2
                continue
            ch = text[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    head = text[i:text.index("{", i)].strip()
                    if head.endswith(")"):
                        j += 1
                        break
            elif ch == ";" and depth == 0:
                j += 1
                break
            j += 1
        res.append(dict(kind="code", text=text[i:j], a=line_of(i),
                        b=line_of(j)))
        i = j
    return res


def comment_text(c):
    """The words of a /* */ comment, its lines' leading ' * ' removed."""
    body = c[2:-2]
    out = []
    for ln in body.split("\n"):
        ln = re.sub(r"^\s*\* ?", "", ln) if re.match(r"^\s*\*", ln) else ln
        out.append(ln.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    # a first line written right after "/* " keeps its place; dedent the rest
    return "\n".join(x.strip() if k == 0 else x for k, x in enumerate(out))


def paragraphs(text):
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def strip_comments(code):
    return re.sub(r"/\*.*?\*/", "", code, flags=re.S)


class Header:
    def __init__(self, root, path):
        self.path = path
        self.name = os.path.relpath(path, os.path.join(root, "include"))
        self.items = items(path)
        first = self.items[0] if self.items else None
        self.file_comment = (comment_text(first["text"])
                             if first and first["kind"] == "comment" else "")
        # attach each comment to the item that follows it on the next line
        self.entries = []       # (section, item, doc)
        section, pending = "", None
        for it in self.items[1:]:
            if it["kind"] == "comment":
                m = SECTION.match(it["text"].strip())
                if m:
                    section, pending = m.group(1), None
                    continue
                if pending and pending["b"] + 1 >= it["a"]:
                    # a comment continued by another: one doc
                    pending = dict(pending, text=pending["text"] + "\n\n" +
                                   comment_text(it["text"]), b=it["b"])
                else:
                    pending = dict(it, text=comment_text(it["text"]))
                continue
            doc = ""
            if pending and pending["b"] + 1 >= it["a"]:
                doc = pending["text"]
            pending = None
            self.entries.append((section, it, doc))


def decl_name(code):
    """Name of a function declared or defined by a statement, or None."""
    c = strip_comments(code)
    if re.match(r"\s*typedef\b", c):
        return None
    m = re.search(r"\b([a-z_][a-z0-9_]*)\s*\(", c)
    return m.group(1) if m else None


def macro_name(pp):
    m = re.match(r"#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?", pp)
    return (m.group(1), m.group(0)[m.group(0).index(m.group(1)):]) if m else (None, None)


def typedef_names(code):
    c = strip_comments(code)
    if not re.match(r"\s*typedef\b", c):
        return []
    m = re.search(r"\}\s*([A-Za-z_]\w*)\s*;\s*$", c)
    if m:
        return [m.group(1)]
    m = re.search(r"([A-Za-z_]\w*)\s*;\s*$", c)
    return [m.group(1)] if m else []


# ------------------------------------------------------------- the pages

class Page:
    def __init__(self, name, header, kind):
        self.name, self.header, self.kind = name, header, kind
        self.names = [name]
        self.entries = []        # (label, code, doc)
        self.future = None       # the type's struct code for a future page
        self.section = ""

    def add(self, label, code, doc):
        if label and label not in self.names:
            self.names.append(label)
        self.entries.append((label, code, doc))


def collect(root, exported):
    hdrs = [Header(root, p) for p in
            [os.path.join(root, "include", "weft.h")] +
            sorted(glob.glob(os.path.join(root, "include", "weft", "*.h")))]
    futures = {}
    for h in hdrs:
        for _, it, _ in h.entries:
            m = re.match(r"\s*WEFT_FUTURE_EXTERN\((\w+)\)", it["text"])
            if m and it["kind"] == "code":
                futures[m.group(1)] = h
    pages, owner = {}, {}

    def family(fn):
        best = None
        for t in futures:
            if fn.startswith(t + "_") and FUTURE_SUFFIX.match(fn[len(t) + 1:]):
                if best is None or len(t) > len(best):
                    best = t
        return best
    problems = []
    for h in hdrs:
        section_pages = {}
        for section, it, doc in h.entries:
            if it["kind"] == "code":
                code = it["text"]
                tds = typedef_names(code)
                if tds and tds[0] in futures:
                    t = tds[0]
                    p = pages.setdefault(t, Page(t, h, "future"))
                    p.future = code
                    p.entries.insert(0, (t, code, doc))
                    owner[t] = p
                    continue
                if re.match(r"\s*WEFT_FUTURE_EXTERN\(", code):
                    t = re.match(r"\s*WEFT_FUTURE_EXTERN\((\w+)\)", code).group(1)
                    p = pages.setdefault(t, Page(t, h, "future"))
                    p.add(t + "_future", None, "")
                    owner[t + "_future"] = p
                    continue
                fn = decl_name(code)
                if fn and fn in exported:
                    t = family(fn)
                    m = re.search(r"\b%s\s*\(\s*(?:const\s+)?(\w+)\s*\*"
                                  % fn, strip_comments(code))
                    if t is None and m and m.group(1) in futures and \
                            fn.endswith("_init"):
                        t = m.group(1)
                    if t:
                        p = pages.setdefault(t, Page(t, futures[t], "future"))
                    else:
                        if not doc:
                            problems.append("%s: %s has no comment"
                                            % (h.name, fn))
                        p = pages.setdefault(fn, Page(fn, h, "function"))
                    p.add(fn, code, doc)
                    owner[fn] = p
                    continue
                names = tds or ([fn] if fn and fn.startswith("weft_") else [])
                if not names or names[0].startswith("weft__"):
                    continue
                label = names[0]
            elif it["kind"] == "pp":
                label, code = macro_name(it["text"])
                if not label or not label.startswith("WEFT_") or \
                        label.startswith("WEFT__") or label.endswith("_H"):
                    continue
                if label in owner:       # a second definition (#if branch)
                    continue
            else:
                continue
            # a macro, an inline function or a type: its section's page,
            # or the page of a function it expands to
            target = None
            fam = family(label) if label else None
            if fam and fam in pages and it["kind"] == "code":
                target = pages[fam]     # an inline T_poll or T_drop
            if it["kind"] == "pp":
                for fn in re.findall(r"\b(weft_[a-z0-9_]+)\s*\(", it["text"]):
                    if fn in owner and owner[fn].kind == "function":
                        target = owner[fn]
                        break
            if target is None:
                key = section or h.name
                target = section_pages.get(key)
                if target is None:
                    target = Page(label, h, "section")
                    target.section = section
                    section_pages[key] = target
                    pages[label] = target
            target.add(label, code, doc)
            owner[label] = target
    return hdrs, pages, owner, futures, problems


# --------------------------------------------------------------- roff

def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return s


def line_safe(s):
    return "\\&" + s if s[:1] in (".", "'") else s


def roff_text(text):
    """Comment prose as roff: paragraphs joined, indented blocks kept."""
    out = []
    text = re.sub(r"(?m)^\s*-{8,}\s*$\n?", "", text)
    for p in paragraphs(text):
        lines = p.split("\n")
        if all(ln.startswith("  ") or not ln.strip() for ln in lines[1:]) \
                and len(lines) > 1 and lines[1].startswith("  ") and \
                not lines[0].startswith("  ") and lines[0].rstrip().endswith(":"):
            out.append(line_safe(esc(lines[0])))
            lines = lines[1:]
        if lines[0].startswith("  ") or lines[0].isupper():
            out += [".PP", ".nf"]
            out += [line_safe(esc(ln)) for ln in lines
                    if not re.match(r"^\s*-{8,}\s*$", ln)]
            out += [".fi"]
            continue
        out.append(".PP")
        for ln in lines:
            ln = ln.strip()
            if ln:
                out.append(line_safe(esc(ln)))
    return out


def sentences(text, seps=".;"):
    flat = re.sub(r"\s+", " ", text)
    out, cur, depth = [], "", 0
    for k, ch in enumerate(flat):
        cur += ch
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch in seps and depth <= 0 and flat[k + 1:k + 2] == " " and \
                re.search(r"[A-Za-z0-9)'][.;]$", cur):
            out.append(cur.strip())
            cur, depth = "", 0
    if cur.strip():
        out.append(cur.strip())
    return out


def header_title(h):
    first = re.sub(r"\s+", " ", paragraphs(h.file_comment)[0])
    return re.split(r"(?<=[a-z)])\. ", first.split(" - ", 1)[-1])[0].rstrip(".")


def summary(page):
    """The NAME line's text: the first sentence of the page's first comment
    (a section's page: of its own name's comment, else the section's title,
    else the header's)."""
    entries = page.entries
    if page.kind == "section":
        entries = entries[:1]
    for _, _, doc in entries:
        if doc:
            s = sentences(doc.split("\n\n")[0])[0]
            s = re.sub(r"[.:;]$", "", s)
            if len(s) > 90:
                for cut in (r"; ", r": ", r" \("):
                    head = re.split(cut, s)[0]
                    if 20 <= len(head) < len(s) and \
                            head.count("(") == head.count(")"):
                        s = head
                        break
            return s[0].lower() + s[1:] if s[:2].istitle() else s
    if page.kind == "section" and page.section:
        return "%s (%s)" % (page.section, header_title(page.header))
    return header_title(page.header)


def split_notes(doc):
    desc, notes = [], []
    for p in paragraphs(doc):
        (notes if re.match(r"\s*(Cancellation|Threads)\b", p) else desc).append(p)
    return "\n\n".join(desc), notes


def synopsis_decl(code):
    c = strip_comments(code)
    c = re.sub(r"\{[^{}]*\}", "{ ... }", c) if "static inline" in c else c
    lines = [ln.rstrip() for ln in c.split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    return [ln.replace("\t", "    ") for ln in lines]


def example_for(root, names):
    strong = [re.compile(r"\b%s\s*\(|[(,]\s*%s\s*[,)]" % (re.escape(n),
                                                           re.escape(n)))
              for n in names if n]
    weak = [re.compile(r"\b%s\b" % re.escape(n)) for n in names if n]
    for pats in (strong, weak):
        r = example_in(root, pats)
        if r:
            return r
    return None


def example_in(root, pats):
    for d in ("examples", "bench", "test", "runtime", "sync", "reactor",
              "wire", "io", "include"):
        files = sorted(glob.glob(os.path.join(root, d, "**", "*.c"),
                                 recursive=True) +
                       glob.glob(os.path.join(root, d, "**", "*.cc"),
                                 recursive=True))
        for f in files:
            lines = open(f).read().split("\n")
            for k, ln in enumerate(lines):
                s = ln.strip()
                if s.startswith(("/*", "*", "//", "#")):
                    continue
                if any(p.search(ln) for p in pats):
                    a, b = max(0, k - 3), min(len(lines), k + 4)
                    chunk = lines[a:b]
                    ind = min((len(x) - len(x.lstrip("\t "))
                               for x in chunk if x.strip()), default=0)
                    chunk = [x[ind:].replace("\t", "    ") for x in chunk]
                    return os.path.relpath(f, root), k + 1, chunk
    return None


def tidy(text):
    """Drops paragraph macros that do nothing (after a heading, another
    paragraph macro, or at .TP's tag), which mandoc -T lint warns of."""
    out = []
    for ln in text.split("\n"):
        if ln in (".PP", ".IP") and out and (
                out[-1].startswith((".SH", ".SS", ".PP", ".IP", ".TP"))):
            continue
        out.append(ln)
    return "\n".join(out)


def render(page, pages, owner, root, problems):
    h = page.header
    out = ['.\\" Generated by man/gen.py from include/%s: edit the header, '
           'not this file.' % h.name,
           '.TH %s 3 %s "%s" "%s"' % (page.name, DATE, SOURCE, MANUAL),
           ".SH NAME",
           "%s \\- %s" % (", ".join(esc(n) for n in page.names),
                          esc(summary(page))),
           ".SH SYNOPSIS", ".nf", ".B #include <%s>" % h.name, ""]
    docs, notes = [], []
    for label, code, doc in page.entries:
        if code is not None:
            for ln in synopsis_decl(code):
                out.append(line_safe(esc(ln)))
            out.append("")
        d, n = split_notes(doc)
        docs.append((label, code, d))
        notes += n
    if page.kind == "future":
        out.append(line_safe(esc("extern const weft_future_type %s_future;"
                                 % page.name)))
    while out[-1] == "":
        out.pop()
    out += [".fi", ".SH DESCRIPTION"]
    ftexts = []
    if page.kind == "future":
        out += roff_text(
            "%s is a future with the shape of every weft future (see "
            "weft(7)): %s_init prepares it on zeroed memory (or after its "
            "_drop or READY) and cannot fail, %s_poll returns WEFT_PENDING "
            "or WEFT_READY, %s_drop cancels and releases it. %s_future is "
            "its future type, for WEFT_BRANCH, WEFT_AWAIT_INIT and "
            "WEFT_BLOCK_ON." % ((page.name,) * 5))
    for label, code, d in docs:
        if not d and code is None:
            continue
        out += [".TP", ".B %s" % esc(label)]
        is_type = code is not None and page.future is code
        body = roff_text(d) if d else [".PP", (
            "The future's type; its fields:" if is_type else
            "No further description: see the future's poll contract above."
            if page.kind == "future" else "")]
        # .TP takes the first line; later paragraphs indent with .IP
        out += [x if x != ".PP" else ".IP" for x in body[1:]] \
            if body and body[0] == ".PP" else body
        if code and page.future is code:
            fields = re.findall(r"\n\s*([^;{}\n]*?\b(\w+)(?:\[[^\]]*\])?\s*;)"
                                r"\s*/\*(.*?)\*/", code, flags=re.S)
            for decl, fname, fdoc in fields:
                out += [".RS", ".TP", ".I %s" % esc(fname),
                        line_safe(esc(re.sub(r"\s*\n\s*\*?\s*", " ",
                                             fdoc).strip())), ".RE"]
                ftexts.append("%s: %s" % (fname, re.sub(
                    r"\s*\n\s*\*?\s*", " ", fdoc).strip()))
    # errnos
    texts = [d for _, _, d in docs] + notes
    if page.kind == "future":
        # the file comment's sentences about futures in general or this one
        texts.append(" ".join(
            s for s in sentences(h.file_comment)
            if re.search(r"\b(Futures?|[Ee]very future|%s)\b" % page.name,
                         s)))
        texts += ftexts
    errnos = []
    for t in texts:
        for e in ERRNO.findall(t or ""):
            if e not in errnos:
                errnos.append(e)
    out.append(".SH RETURN VALUE")
    if page.kind == "future":
        out += roff_text(
            "%s_poll returns WEFT_PENDING (the task's waker will be woken) or "
            "WEFT_READY; the result is then in the future's res field (0 or "
            "a value on success, a negative errno on failure, as "
            "DESCRIPTION says). %s_init and %s_drop return nothing."
            % ((page.name,) * 3))
    else:
        rets = []
        for label, code, d in docs:
            if code is None:
                continue
            c = strip_comments(code)
            rt = c.split(label)[0] if label in c else ""
            rt = re.sub(r"\b(static|inline|extern)\b", "", rt).strip()
            if re.match(r"#\s*define", c):
                rets.append("%s expands as the DESCRIPTION says." % label)
                continue
            if not rt or rt == "typedef struct" or c.strip().startswith("typedef"):
                continue
            if rt == "void":
                rets.append("%s returns no value." % label)
                continue
            said = [s for s in sentences(d, ".") if re.search(
                r"\b[Rr]eturns?\b|\bTrue\b|\bNULL\b|-E[A-Z]|-> ", s)]
            rets.append("%s returns %s%s" % (
                label, rt, (": " + " ".join(said)) if said else
                (": " + sentences(d)[0] if d else ".")))
        if not rets:
            rets.append("Types and macros: no return value.")
        for r in rets:
            out += roff_text(r)
    if errnos:
        out += roff_text("The negative errno values reported here: %s."
                         % ", ".join("-" + e for e in errnos))
    out.append(".SH ERRORS")
    if errnos:
        for e in errnos:
            said = []
            for t in texts:
                for m in re.finditer(r"-%s\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)"
                                     % e, t or ""):
                    x = re.sub(r"\s+", " ", m.group(1)).strip()
                    x = x[0].upper() + x[1:] + "."
                    if x not in said:
                        said.append(x)
            for t in texts if not said else []:
                for s in sentences(t or ""):
                    if re.search(r"-%s\b" % e, s) and s not in said:
                        said.append(s)
            out += [".TP", ".B \\-%s" % e]
            out += [line_safe(esc(" ".join(said)))]
    else:
        out += [".PP", "None: this page reports no errno values."]
    out.append(".SH NOTES")
    hnotes = [p for p in paragraphs(h.file_comment)
              if re.match(r"\s*(Cancellation|Threads)\b", p)]
    allnotes = notes + [p for p in hnotes if p not in notes]
    if not any(re.match(r"\s*Threads\b", p) for p in allnotes):
        problems.append("%s(3): no Threads paragraph (in its comments or "
                        "%s's file comment)" % (page.name, h.name))
    if page.kind == "future":
        allnotes.insert(0, "Cancellation of a %s: %s_drop may be called in "
                        "any state: before the first poll and after READY it "
                        "does nothing that matters; while the future is "
                        "pending it cancels what the future waits for. Call "
                        "it from the drop function of a frame that holds a "
                        "%s and can be dropped (aborted, or a losing select "
                        "branch) while it is pending." % ((page.name,) * 3))
    for p in allnotes:
        out += roff_text(p)
    ex = example_for(root, page.names)
    out.append(".SH EXAMPLE")
    if ex is None:
        problems.append("%s(3): no use of %s in the source tree"
                        % (page.name, ", ".join(page.names)))
    else:
        f, ln, chunk = ex
        out += [".PP", "From %s:" % esc(f), ".PP", ".nf", ".RS"]
        out += [line_safe(esc(x)) for x in chunk]
        out += [".RE", ".fi"]
    # see also
    seen = [page.name]
    refs = []
    alltext = " ".join(d for _, _, d in docs) + " ".join(notes)
    for n in re.findall(r"\b(weft_[a-z0-9_]+|WEFT_[A-Z0-9_]+)", alltext):
        p = owner.get(n)
        if p and p.name not in seen:
            seen.append(p.name)
            refs.append(p.name)
    same = sorted(p.name for p in pages.values()
                  if p.header is h and p.name not in seen)
    out.append(".SH SEE ALSO")
    out.append(",\n".join([".BR weft (7)"] + [".BR %s (3)" % esc(r)
                                              for r in refs + same]))
    return "\n".join(out) + "\n"


def render_overview(hdrs, pages):
    core = next(h for h in hdrs if h.name == "weft/core.h")
    out = ['.\\" Generated by man/gen.py: edit it or the headers, not this file.',
           '.TH weft 7 %s "%s" "%s"' % (DATE, SOURCE, MANUAL),
           ".SH NAME",
           "weft \\- a work-stealing async task runtime for C on io_uring",
           ".SH SYNOPSIS", ".nf", ".B #include <weft.h>", ".fi", ".PP",
           "cc prog.c $(pkg-config \\-\\-cflags \\-\\-libs weft)",
           ".SH DESCRIPTION"]
    out += roff_text(OVERVIEW)
    out.append(".SH THE MODEL AND THE FRAME RULES")
    out += roff_text("\n\n".join(paragraphs(core.file_comment)[1:]))
    out.append(".SH PAGES")
    for h in hdrs:
        ps = [p for p in pages.values() if p.header is h]
        if not ps:
            continue
        out += [".SS <%s>" % h.name]
        out += roff_text(header_title(h) + ".")
        for p in sorted(ps, key=lambda p: p.name):
            out += [".TP", ".BR %s (3)" % esc(p.name), esc(summary(p))]
    out += [".SH FILES", ".TP", ".I docs/guide.md",
            "(source tree) the tutorial: writing async code in C with weft",
            ".TP", ".I docs/architecture.md",
            "(source tree) how the runtime and the reactor are built",
            ".TP", ".I examples/",
            "(source tree) programs that are built and run as tests; "
            "start with hello.c",
            ".SH SEE ALSO",
            ".BR weft_rt_create (3),", ".BR weft_spawn (3),",
            ".BR WEFT_FUTURE (3),", ".BR WEFT_BEGIN (3),",
            ".BR io_uring (7)"]
    return "\n".join(out) + "\n"


def exported_names(root):
    sys.path.insert(0, os.path.join(root, "test", "abi"))
    import symbols
    inc, hs = symbols.public_headers(root)
    cc = os.environ.get("CC", "cc").split()
    decls = symbols.declarations(symbols.preprocess(cc, inc, hs))
    return {n for n, (k, st) in decls.items() if not st}


def generate(root):
    global SOURCE
    SOURCE = "weft " + project_version(root)
    exported = exported_names(root)
    hdrs, pages, owner, futures, problems = collect(root, exported)
    files = {}
    for p in pages.values():
        files["man3/%s.3" % p.name] = tidy(render(p, pages, owner, root,
                                                  problems))
        for n in p.names[1:]:
            files["man3/%s.3" % n] = ".so man3/%s.3\n" % p.name
    files["man7/weft.7"] = tidy(render_overview(hdrs, pages))
    missing = sorted(n for n in exported if n not in owner)
    for n in missing:
        problems.append("exported, on no page: %s" % n)
    if problems:
        die("\n  ".join(["cannot write the pages:"] + problems))
    return files, pages


def without_example(text):
    """The page without its EXAMPLE section (up to SEE ALSO)."""
    return re.sub(r"\.SH EXAMPLE\n.*?(?=\.SH SEE ALSO)", "", text,
                  flags=re.S)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--out", default=None)
    ap.add_argument("--check", default=None)
    a = ap.parse_args()
    files, pages = generate(a.root)
    if a.check:
        bad, stale_examples = [], []
        for rel, text in sorted(files.items()):
            p = os.path.join(a.check, rel)
            if not os.path.exists(p):
                bad.append(rel + " (missing)")
                continue
            have = open(p).read()
            if have == text:
                continue
            # An EXAMPLE is quoted from the source tree, not from the
            # headers: code edited near a quoted use makes it stale, which
            # is worth regenerating for but is not a page out of step with
            # the API. Everything else must match.
            if without_example(have) == without_example(text):
                stale_examples.append(rel)
            else:
                bad.append(rel + " (differs)")
        if stale_examples:
            print("note: %d pages quote an EXAMPLE that changed in the "
                  "source tree (python3 man/gen.py refreshes them): %s"
                  % (len(stale_examples), " ".join(stale_examples)))
        for p in sorted(glob.glob(os.path.join(a.check, "man[37]", "*"))):
            rel = os.path.relpath(p, a.check)
            if rel not in files:
                bad.append(rel + " (not generated: a stale page)")
        if bad:
            print("pages out of date with the headers (run python3 "
                  "man/gen.py):\n  " + "\n  ".join(bad))
            return 1
        print("%d pages (%d with text, %d links) match the headers"
              % (len(files), len(pages) + 1, len(files) - len(pages) - 1))
        return 0
    out = a.out or here
    for d in ("man3", "man7"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
        for p in glob.glob(os.path.join(out, d, "*")):
            if os.path.relpath(p, out) not in files:
                os.remove(p)
    for rel, text in files.items():
        p = os.path.join(out, rel)
        if not os.path.exists(p) or open(p).read() != text:
            with open(p, "w") as fh:
                fh.write(text)
    print("%d pages with text, %d links" % (len(pages) + 1,
                                            len(files) - len(pages) - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
