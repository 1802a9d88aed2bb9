#!/usr/bin/env python3
"""examples/proxy_tls.py PROXY - examples/proxy.c with TLS on one side,
driven by clients no one here wrote (curl, openssl s_client).

Makes a certificate for localhost with `openssl req`, starts a plain HTTP
upstream (Python's http.server on loopback, serving a 200 kB file) and:
  1. proxy A --accept-tls CERT KEY in front of it: `curl --cacert` over
     HTTPS through A gets the file intact; `openssl s_client` through A
     sends a request and reads the answer (TLS terminated, plain upstream);
  2. proxy B --connect-tls CA localhost in front of A: plain curl through
     B -> TLS -> A -> the upstream gets the file (TLS originated);
  3. proxy C --connect-tls OTHER_CA localhost in front of A: curl gets no
     answer and C logs the certificate verification failure;
  4. a client sending plain HTTP to A: A logs a TLS protocol error, and
     curl is still served.
Without curl or openssl the test is skipped (exit 77). Waits are hang
guards only.
"""
import functools
import http.server
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

PROG = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tls_check import check, failures, make_cert  # noqa: E402


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Lines:
    """A proxy's output lines, read by a thread."""

    def __init__(self, proc):
        self.lines, self.proc = [], proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for ln in self.proc.stdout:
            self.lines.append(ln.rstrip("\n"))

    def wait(self, pattern, guard=15.0):
        end = time.monotonic() + guard
        while time.monotonic() < end:
            got = [ln for ln in self.lines if re.search(pattern, ln)]
            if got:
                return got
            time.sleep(0.05)
        return []


def proxy(args, upstream):
    proc = subprocess.Popen([PROG] + args + ["127.0.0.1:0", upstream],
                            stdout=subprocess.PIPE, universal_newlines=True)
    r, _, _ = select.select([proc.stdout], [], [], 20)
    first = proc.stdout.readline() if r else ""
    m = re.match(r"proxy: listening on 127\.0\.0\.1:(\d+)", first)
    return proc, (int(m.group(1)) if m else 0), Lines(proc)


def curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def main():
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            print("%s is not installed: skipped" % tool)
            return 77
    d = tempfile.mkdtemp(prefix="weft-proxy-tls-")
    procs = []
    try:
        run(d, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


def run(d, procs):
    cert, key = make_cert(d, "server")
    other, _ = make_cert(d, "other")
    root = os.path.join(d, "root")
    os.mkdir(root)
    data = os.urandom(200000)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(data)
    handler = functools.partial(Quiet, directory=root)
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    upstream = "127.0.0.1:%d" % up.server_address[1]

    a, pa, la = proxy(["--accept-tls", cert, key], upstream)
    procs.append(a)
    check(pa != 0, "proxy A listens (TLS from clients)")
    res = ["--resolve", "localhost:%d:127.0.0.1" % pa]
    rc, out, err = curl("--cacert", cert, *res,
                        "https://localhost:%d/data.bin" % pa)
    check(rc == 0 and out == data, "curl --cacert over HTTPS through A",
          (rc, len(out), err))
    check(bool(la.wait(r"^proxy: connection done: \d+ bytes up, 200\d\d\d "
                       r"down, res 0$")), "A: connection done, res 0",
          la.lines)
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % pa, "-servername", "localhost",
                        "-CAfile", cert, "-verify_return_error", "-quiet"],
                       input=b"GET /data.bin HTTP/1.0\r\n\r\n",
                       capture_output=True, timeout=30)
    check(p.returncode == 0 and p.stdout.startswith(b"HTTP/1.0 200") and
          p.stdout.endswith(data), "openssl s_client through A",
          (p.returncode, p.stdout[:200], p.stderr[-300:]))

    b, pb, lb = proxy(["--connect-tls", cert, "localhost"], "127.0.0.1:%d" % pa)
    procs.append(b)
    rc, out, err = curl("http://127.0.0.1:%d/data.bin" % pb)
    check(rc == 0 and out == data, "plain curl -> B -> TLS -> A -> upstream",
          (rc, len(out), err))

    c, pc, lc = proxy(["--connect-tls", other, "localhost"],
                      "127.0.0.1:%d" % pa)
    procs.append(c)
    rc, out, err = curl("http://127.0.0.1:%d/data.bin" % pc)
    check(rc != 0 and out == b"", "C (trusts another CA): curl gets nothing",
          (rc, out[:100], err))
    got = lc.wait(r"^proxy: connection done: 0 bytes up, 0 down, res -129; "
                  r"upstream side: certificate verify failed")
    check(len(got) == 1, "C logs the upstream's certificate failure",
          lc.lines)
    got = la.wait(r"res -71; client side: .*unknown ca")
    check(len(got) == 1, "A logs C's unknown-CA alert", la.lines)

    rc, out, err = curl("http://127.0.0.1:%d/data.bin" % pa)
    check(rc != 0, "plain HTTP to A fails", (rc, out[:100]))
    got = la.wait(r"res -71; client side: (wrong version|http request)")
    check(len(got) == 1, "A logs plain HTTP as a TLS protocol error",
          la.lines)
    rc, out, err = curl("--cacert", cert, *res,
                        "https://localhost:%d/data.bin" % pa)
    check(rc == 0 and out == data, "A still serves HTTPS", (rc, err))
    up.shutdown()


if __name__ == "__main__":
    sys.exit(main())
