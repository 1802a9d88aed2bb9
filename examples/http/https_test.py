#!/usr/bin/env python3
"""examples/http/https_test.py PROGRAM - the HTTPS test of examples/http.

Makes a P-256 certificate for localhost (and a second, unrelated CA, and a
certificate for another name) with `openssl req` in a temporary directory,
starts the server with --tls-cert/--tls-key on a free loopback port, and
checks, with curl and openssl s_client:
  - curl --cacert: GET /plaintext (ALPN http/1.1 negotiated), a 300 kB
    static file (sendfile's read/write fallback over TLS), a Range, a POST
    body, keep-alive reuse of one TLS connection;
  - openssl s_client -alpn http/1.1: a request typed into the session;
  - curl trusting another CA fails with curl's certificate error (60), and
    the server logs the client's alert;
  - a server certificate for another name: curl fails (60, "subject
    name"); a key that is not the certificate's: the server refuses to
    start with a clear message;
  - a truncated handshake (half a ClientHello, then silence; and half a
    ClientHello, then close), plaintext HTTP sent to the TLS port, and
    garbage records after a completed handshake: each is logged as a
    clear one-line error naming the peer, while curl is served meanwhile;
  - SIGTERM: the server exits 0.
Without curl or openssl the test is skipped (exit 77). Waits are hang
guards only.
"""
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PROG = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tls_check import check, failures, make_cert  # noqa: E402


def start(args, errpath):
    err = open(errpath, "w")
    proc = subprocess.Popen([PROG, "--port", "0", "--max-seconds", "120",
                             "--header-timeout", "2000"] + args,
                            stdout=subprocess.PIPE, stderr=err,
                            universal_newlines=True)
    err.close()
    r, _, _ = select.select([proc.stdout], [], [], 20)
    first = proc.stdout.readline() if r else ""
    m = re.match(r"listening on 127\.0\.0\.1:(\d+) \(https\)", first)
    return proc, int(m.group(1)) if m else 0, first


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def curl(port, cacert, *args):
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", cacert,
                        "--resolve", "localhost:%d:127.0.0.1" % port] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def wait_log(path, pattern, guard=15.0):
    """The server's stderr lines matching pattern, waiting for one."""
    end = time.monotonic() + guard
    while True:
        with open(path) as f:
            got = [ln for ln in f.read().splitlines() if re.search(pattern, ln)]
        if got or time.monotonic() > end:
            return got
        time.sleep(0.05)


def client_hello():
    """The first bytes a real TLS client sends (a ClientHello record),
    captured from Python's ssl module over a memory BIO."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def main():
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            print("%s is not installed: skipped" % tool)
            return 77
    d = tempfile.mkdtemp(prefix="weft-https-")
    try:
        run(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


def run(d):
    cert, key = make_cert(d, "server")
    other, other_key = make_cert(d, "other")
    wrong, wrong_key = make_cert(d, "wrong", "not-localhost")
    root = os.path.join(d, "root")
    os.mkdir(root)
    data = os.urandom(300000)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(data)
    errpath = os.path.join(d, "stderr")

    # a key that is not the certificate's: refused at start, clearly
    p = subprocess.run([PROG, "--port", "0", "--tls-cert", cert,
                        "--tls-key", other_key, "--max-seconds", "5"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "Key was rejected by service" in p.stderr and
          cert in p.stderr, "mismatched key: the server refuses to start",
          (p.returncode, p.stderr))

    proc, port, first = start(["--root", root, "--tls-cert", cert,
                               "--tls-key", key], errpath)
    if not port:
        check(False, "server starts with --tls-cert/--tls-key", first)
        proc.kill()
        return
    try:
        checks(port, cert, other, data, errpath)
    finally:
        rc = stop(proc)
    check(rc == 0, "SIGTERM: exits 0", rc)

    # a certificate for another name: curl refuses it
    proc, port, first = start(["--tls-cert", wrong, "--tls-key", wrong_key],
                              errpath)
    try:
        rc, out, err = curl(port, wrong, "https://localhost:%d/plaintext" %
                            port)
        check(rc == 60 and "subject name" in err,
              "certificate for another name: curl fails (60)", (rc, err))
    finally:
        stop(proc)


def checks(port, cert, other, data, errpath):
    base = "https://localhost:%d" % port
    rc, out, err = curl(port, cert, "-v", base + "/plaintext")
    check(rc == 0 and out == b"Hello, World!" and
          "ALPN: server accepted http/1.1" in err,
          "curl --cacert: GET /plaintext, ALPN http/1.1", (rc, out, err))
    rc, out, err = curl(port, cert, base + "/data.bin")
    check(rc == 0 and out == data, "a 300 kB static file over TLS",
          (rc, len(out), err))
    rc, out, err = curl(port, cert, "-r", "1000-1999", base + "/data.bin")
    check(rc == 0 and out == data[1000:2000], "Range over TLS",
          (rc, len(out), err))
    rc, out, err = curl(port, cert, "--data-binary", "abc", base + "/up")
    check(rc == 0 and out.startswith(b"received 3 bytes"), "POST over TLS",
          (rc, out, err))
    rc, out, err = curl(port, cert, "-v", base + "/plaintext",
                        base + "/plaintext")
    check(rc == 0 and out == b"Hello, World!" * 2 and
          "Re-using existing connection" in err,
          "keep-alive: two requests on one TLS connection", err[-600:])

    # openssl s_client, a request typed into the session
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % port, "-servername", "localhost",
                        "-alpn", "http/1.1", "-CAfile", cert,
                        "-verify_return_error", "-quiet"],
                       input=b"GET /plaintext HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n",
                       capture_output=True, timeout=30)
    check(p.returncode == 0 and p.stdout.startswith(b"HTTP/1.1 200 OK") and
          p.stdout.endswith(b"Hello, World!"),
          "openssl s_client -alpn http/1.1: a request", (p.returncode,
                                                        p.stdout, p.stderr))

    # a client that trusts another CA
    rc, out, err = curl(port, other, base + "/plaintext")
    check(rc == 60 and "certificate" in err,
          "curl trusting another CA: certificate error (60)", (rc, err))
    got = wait_log(errpath, r"^http: TLS 127\.0\.0\.1:\d+: handshake: "
                            r"Protocol error \(.*unknown ca\)")
    check(len(got) == 1, "the server logs the client's unknown-CA alert",
          open(errpath).read())

    # the bad clients, all at once, kept open while curl is served
    hello = client_hello()
    stall = socket.create_connection(("127.0.0.1", port), timeout=10)
    stall.sendall(hello[:len(hello) // 2])        # and nothing more
    cut = socket.create_connection(("127.0.0.1", port), timeout=10)
    cut.sendall(hello[:len(hello) // 2])
    plain = socket.create_connection(("127.0.0.1", port), timeout=10)
    plain.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    ctx = ssl.create_default_context(cafile=cert)
    late = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port),
                                                    timeout=10),
                           server_hostname="localhost")
    late.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    got_late = late.recv(4096)
    # garbage under the TLS layer: an application-data record of random
    # bytes (its MAC cannot verify)
    raw = socket.socket(fileno=os.dup(late.fileno()))
    raw.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))
    rc, out, err = curl(port, cert, base + "/plaintext")
    check(rc == 0 and out == b"Hello, World!",
          "curl served beside a stalled handshake and garbage", (rc, err))
    cut.close()
    got = wait_log(errpath, r"handshake: Connection reset by peer")
    check(len(got) == 1 and re.match(r"^http: TLS 127\.0\.0\.1:\d+: ", got[0]),
          "a handshake cut off half-way is logged (reset)",
          open(errpath).read())
    got = wait_log(errpath, r"handshake: Protocol error \(.*(wrong version|"
                            r"http request)")
    check(len(got) == 1, "plain HTTP to the TLS port is logged (protocol"
          " error)", open(errpath).read())
    try:
        back = plain.recv(4096)
    except OSError:
        back = b""
    check(not back.startswith(b"HTTP/"), "plain HTTP gets no HTTP answer",
          back)
    check(got_late.startswith(b"HTTP/1.1 200 "), "Python ssl client served",
          got_late)
    got = wait_log(errpath, r"read: Protocol error \(")
    check(len(got) == 1, "garbage records after the handshake are logged",
          open(errpath).read())
    got = wait_log(errpath, r"handshake: Connection timed out")
    check(len(got) == 1, "a stalled handshake is cut off at the header "
          "deadline and logged", open(errpath).read())
    try:
        closed = stall.recv(100) == b""
    except (socket.timeout, ConnectionResetError):
        closed = True
    check(closed, "the stalled client is closed")
    for s in (stall, plain, raw, late):
        s.close()
    rc, out, err = curl(port, cert, base + "/plaintext")
    check(rc == 0 and out == b"Hello, World!", "served after the bad clients",
          (rc, err))
    print("# server stderr:\n" + open(errpath).read())


if __name__ == "__main__":
    sys.exit(main())
