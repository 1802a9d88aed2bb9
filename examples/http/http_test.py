#!/usr/bin/env python3
"""examples/http/http_test.py PROGRAM [--stress] - the test of examples/http.

Runs the server on a free loopback port over a temporary root directory
and drives it with curl (GET, HEAD, POST with a Content-Length and with a
chunked body, Range, keep-alive reuse, If-None-Match -> 304, path
traversal) and with raw sockets (pipelining, a malformed request -> 400,
Expect: 100-continue, an oversized header -> 431, a body over the limit ->
413, the idle timeout, a slowloris crowd that must not stop curl from
being served, closed at the header deadline, with the server's RSS
bounded), then SIGTERM with a request in flight: it is answered, new
clients are refused and the server exits 0. Without curl the test is
skipped (exit 77). Waits are hang guards only.
"""
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROG = sys.argv[1]
STRESS = "--stress" in sys.argv[2:]
SLOW_CONNS = 2000 if STRESS else 200
failures = []


def check(cond, name, detail=""):
    print(("ok - " if cond else "FAIL - ") + name +
          ("" if cond else ": " + str(detail)[:400]))
    if not cond:
        failures.append(name)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def raw(port, data, guard=10.0, until_close=True):
    """Sends data, returns what comes back until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=guard)
    try:
        s.sendall(data)
    except OSError:             # the server answered and closed early
        pass
    out = b""
    end = time.monotonic() + guard
    while time.monotonic() < end:
        try:
            c = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not c:
            break
        out += c
        if not until_close and b"\r\n\r\n" in out:
            break
    s.close()
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return -1


def main():
    if not shutil.which("curl"):
        print("curl is not installed: skipped")
        return 77
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, SLOW_CONNS * 2 + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    root = tempfile.mkdtemp(prefix="weft-http-")
    outside = tempfile.mkdtemp(prefix="weft-http-out-")
    data = os.urandom(300000)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<h1>weft</h1>\n")
    os.mkdir(os.path.join(root, "css"))
    with open(os.path.join(root, "css", "site.css"), "w") as f:
        f.write("h1 { color: red }\n")
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("secret\n")
    os.symlink(os.path.join(outside, "secret.txt"),
               os.path.join(root, "escape.txt"))
    os.symlink("data.bin", os.path.join(root, "inside.bin"))
    body = os.urandom(200000)
    bodyfile = os.path.join(outside, "body.bin")
    with open(bodyfile, "wb") as f:
        f.write(body)
    want_post = "received %d bytes, fnv1a %08x" % (len(body), fnv1a(body))

    proc = subprocess.Popen(
        [PROG, "--port", "0", "--root", root, "--max-body", "1000000",
         "--header-timeout", "3000", "--idle-timeout", "60000",
         "--shutdown-ms", "20000", "--max-seconds", "300"],
        stdout=subprocess.PIPE, universal_newlines=True)
    try:
        r, _, _ = select.select([proc.stdout], [], [], 20)
        first = proc.stdout.readline() if r else ""
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)", first)
        if not m:
            print("no 'listening on' line: %r" % first)
            return 1
        port = int(m.group(1))
        run_checks(proc, port, root, data, bodyfile, want_post)
        run_shutdown(proc, port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


def run_checks(proc, port, root, data, bodyfile, want_post):
    base = "http://127.0.0.1:%d" % port
    rc, out, err = curl(base + "/plaintext")
    check(rc == 0 and out == b"Hello, World!", "GET /plaintext", (rc, out, err))

    rc, out, err = curl("-i", base + "/data.bin")
    head, _, got = out.partition(b"\r\n\r\n")
    check(rc == 0 and got == data and b"200 OK" in head and
          b"Content-Type: application/octet-stream" in head,
          "GET a static file (300 kB, sendfile)", (rc, head, err))

    rc, out, err = curl("-i", base + "/")
    check(b"<h1>weft</h1>" in out and b"text/html" in out,
          "GET / -> index.html, text/html", out[:300])
    rc, out, err = curl("-i", base + "/css/site.css")
    check(b"Content-Type: text/css" in out and out.endswith(b"red }\n"),
          "GET a CSS file: Content-Type", out[:300])

    rc, out, err = curl("-I", base + "/data.bin")
    check(rc == 0 and b"Content-Length: 300000" in out and
          out.endswith(b"\r\n\r\n"), "HEAD: headers, no body", out)
    m = re.search(rb"ETag: (\S+)", out)
    etag = m.group(1).decode() if m else ""
    check(bool(m), "ETag present", out)

    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                        "-H", "If-None-Match: " + etag, base + "/data.bin")
    check(out == b"304", "If-None-Match -> 304", (out, err))
    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                        "-H", 'If-None-Match: "other"', base + "/data.bin")
    check(out == b"200", "If-None-Match other -> 200", (out, err))

    rc, out, err = curl("-i", "-r", "1000-1999", base + "/data.bin")
    head, _, got = out.partition(b"\r\n\r\n")
    check(b"206 Partial Content" in head and got == data[1000:2000] and
          b"Content-Range: bytes 1000-1999/300000" in head,
          "Range a-b -> 206", head)
    rc, out, err = curl("-r", "-100", base + "/data.bin")
    check(out == data[-100:], "Range -n (suffix)", len(out))
    rc, out, err = curl("-r", "299990-", base + "/data.bin")
    check(out == data[299990:], "Range a- (to the end)", len(out))
    rc, out, err = curl("-i", "-r", "400000-", base + "/data.bin")
    check(b"416 Range Not Satisfiable" in out and
          b"Content-Range: bytes */300000" in out, "Range past end -> 416",
          out[:300])

    rc, out, err = curl("--data-binary", "@" + bodyfile, base + "/upload")
    check(out.decode().strip() == want_post, "POST with Content-Length",
          (out, err))
    rc, out, err = curl("-H", "Transfer-Encoding: chunked",
                        "--data-binary", "@" + bodyfile, base + "/upload")
    check(out.decode().strip() == want_post, "POST with a chunked body",
          (out, err))

    rc, out, err = curl("-v", base + "/plaintext", base + "/plaintext")
    check(out == b"Hello, World!" * 2 and
          "Re-using existing connection" in err, "keep-alive reuse (curl)",
          err[-600:])

    for path in ("/../../etc/passwd", "/css/../../etc/passwd",
                 "/%2e%2e/%2e%2e/etc/passwd"):
        rc, out, err = curl("--path-as-is", "-o", "/dev/null", "-w",
                            "%{http_code}", base + path)
        check(out in (b"403", b"404"), "traversal %s -> 403/404" % path, out)
    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                        base + "/escape.txt")
    check(out in (b"403", b"404"), "symlink out of the root -> 403/404", out)
    rc, out, err = curl(base + "/inside.bin")
    check(out == data, "symlink inside the root is served", len(out))
    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}",
                        base + "/missing.txt")
    check(out == b"404", "missing file -> 404", out)

    # pipelining: five requests in one send, answered in order
    req = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw(port, req * 2 +
              b"HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" +
              b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
              b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    statuses = re.findall(rb"HTTP/1.1 (\d+)", out)
    check(statuses == [b"200"] * 5 and out.count(b"Hello, World!") == 3 and
          (b"received 3 bytes, fnv1a %08x" % fnv1a(b"abc")) in out and
          out.endswith(b"Hello, World!"), "pipelining: 5 answers in order",
          out)

    out = raw(port, b"GET /plaintext HTTP/1.1\r\nHost: x\r\n"
              b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nnot http")
    check(out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"Hello, World!")
          and b"Connection: close" in out,
          "Upgrade: answered as plain HTTP, then closed", out)
    out = raw(port, b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 400 "), "malformed request -> 400", out)
    out = raw(port, b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Big: " +
              b"a" * 9000 + b"\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 431 "), "9 kB header -> 431", out[:100])
    out = raw(port, b"POST /p HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 2000000\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 413 "), "Content-Length over the limit"
          " -> 413 (before the body)", out[:100])
    chunk = b"%x\r\n%s\r\n" % (100000, b"z" * 100000)
    out = raw(port, b"POST /p HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 11 + b"0\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 413 "), "chunked body over the limit"
          " -> 413", out[:100])

    # Expect: 100-continue: the interim answer comes before the body
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    try:
        first = s.recv(1000)
        s.sendall(b"hello")
        rest = s.recv(1000)
    except socket.timeout:
        first = rest = b"(no answer within 10 s)"
    s.close()
    check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and
          rest.startswith(b"HTTP/1.1 200 ") and
          (b"received 5 bytes, fnv1a %08x" % fnv1a(b"hello")) in rest,
          "Expect: 100-continue", (first, rest))

    idle_timeout(root)
    slowloris(proc, port, base)


def idle_timeout(root):
    """A second server, with a 1 s idle timeout (the main one has 60 s, so
    that only shutdown can close its idle connections)."""
    proc = subprocess.Popen([PROG, "--port", "0", "--idle-timeout", "1000",
                             "--max-seconds", "60"],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        r, _, _ = select.select([proc.stdout], [], [], 20)
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)",
                     proc.stdout.readline() if r else "")
        port = int(m.group(1)) if m else 0
        idle_check(port)
    finally:
        proc.kill()
        proc.wait()


def idle_check(port):
    req = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(req)
    got = s.recv(1000)
    t0 = time.monotonic()
    try:
        closed = s.recv(1000) == b""
    except socket.timeout:
        closed = False
    s.close()
    check(got.endswith(b"Hello, World!") and closed and
          time.monotonic() - t0 >= 0.5, "idle keep-alive timeout closes")


def slowloris(proc, port, base):
    """SLOW_CONNS clients send one header byte each every 100 ms. curl is
    still served; at the header deadline (3 s here) they get 408 and are
    closed; RSS stays bounded."""
    rss0 = rss_kib(proc.pid)
    socks = []
    for _ in range(SLOW_CONNS):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    time.sleep(0.5)                 # the connects complete (loopback)
    prefix = b"GET /plaintext HTTP/1.1\r\nX-Slow: "
    sent = 0
    served = 0
    peak = rss0
    open_ = set(socks)
    start = time.monotonic()
    for tick in range(45):          # 4.5 s, past the 3 s header deadline
        b = prefix[tick:tick + 1] if tick < len(prefix) else b"a"
        for s in list(open_):
            try:
                s.send(b)
                sent += 1
            except (BlockingIOError, OSError):
                pass
        if tick in (5, 15, 25):
            rc, out, err = curl(base + "/plaintext")
            served += out == b"Hello, World!"
            peak = max(peak, rss_kib(proc.pid))
        time.sleep(0.1)
    # every slow client is answered 408 or closed
    ended = 0
    deadline = time.monotonic() + 20
    pending = list(socks)
    got408 = 0
    byfd = {s.fileno(): s for s in socks}
    poller = select.poll()          # select() stops at fd 1024
    for s in socks:
        poller.register(s, select.POLLIN)
    while pending and time.monotonic() < deadline:
        r = [byfd[fd] for fd, _ in poller.poll(1000)]
        for s in r:
            poller.unregister(s)
            try:
                d = s.recv(4096)
            except (BlockingIOError, ConnectionResetError):
                d = b""
            if d.startswith(b"HTTP/1.1 408"):
                got408 += 1
            if not d or d.startswith(b"HTTP/1.1 408"):
                pending.remove(s)
                ended += 1
    for s in socks:
        s.close()
    elapsed = time.monotonic() - start
    check(served == 3, "curl served during a %d-connection slowloris" %
          SLOW_CONNS, served)
    check(ended == SLOW_CONNS and got408 > 0,
          "slowloris clients cut off at the header deadline (408)",
          (ended, got408, elapsed))
    bound = 16 * 1024 + SLOW_CONNS * 64
    print("# RSS %d kB before, %d kB peak with %d slow connections" %
          (rss0, peak, SLOW_CONNS))
    check(peak - rss0 < bound, "RSS bounded (+%d kB < %d kB)" %
          (peak - rss0, bound))
    rc, out, err = curl(base + "/plaintext")
    check(out == b"Hello, World!", "served after the slowloris", out)


def run_shutdown(proc, port):
    # a request in flight (half its body sent) and an idle connection
    busy = socket.create_connection(("127.0.0.1", port), timeout=15)
    busy.sendall(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                 b"12345")
    idle = socket.create_connection(("127.0.0.1", port), timeout=15)
    idle.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.recv(1000)
    time.sleep(0.3)                 # let the server read the first half
    proc.send_signal(signal.SIGTERM)
    r, _, _ = select.select([proc.stdout], [], [], 15)
    ln = proc.stdout.readline() if r else ""
    check(ln.startswith("SIGTERM: stopped accepting"),
          "SIGTERM: stops accepting", ln)
    idle.settimeout(8)              # under the 20 s shutdown deadline
    try:
        closed = idle.recv(1000) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    check(closed, "SIGTERM: an idle keep-alive connection is closed")
    # the listener's fd is closed once the reactor has cancelled its
    # accept (weft_listener_drop): a handshake may still land in the
    # backlog just before, and that client is then reset, never served
    refused = False
    try:
        late = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            late.settimeout(10)
            late.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = late.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            refused = True
        except socket.timeout:
            refused = False
        late.close()
    except OSError:
        refused = True
    check(refused, "SIGTERM: new clients refused (or reset unserved)")
    busy.sendall(b"67890")
    out = b""
    while True:
        try:
            c = busy.recv(4096)
        except socket.timeout:
            break
        if not c:
            break
        out += c
    check(out.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in out
          and (b"received 10 bytes, fnv1a %08x" % fnv1a(b"1234567890")) in out,
          "SIGTERM: the request in flight is answered", out)
    try:
        rc = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        rc = None
    rest = proc.stdout.read()
    check(rc == 0 and "all connections finished" in rest,
          "SIGTERM: exits 0 after the in-flight request", (rc, rest))


if __name__ == "__main__":
    sys.exit(main())
