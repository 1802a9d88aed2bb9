#!/usr/bin/env python3
"""examples/chat_tls.py CHAT - the chat server over TLS (chat PORT CERT
KEY), driven by `openssl s_client`: makes a certificate for localhost with
`openssl req`, starts the server on a free loopback port, connects two
s_client sessions verifying against it, checks each is welcomed, that a
line one says is heard by the other as "c0: ..." and the other way round,
and that a client speaking plain TCP to it (no TLS) does not disturb them.
Without openssl the test is skipped (exit 77). Waits are hang guards only.
"""
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

GUARD = 20  # seconds


def lines_of(proc):
    q = queue.Queue()

    def read():
        for ln in proc.stdout:
            q.put(ln.rstrip("\n"))
        q.put(None)
    threading.Thread(target=read, daemon=True).start()
    return q


def expect(q, pattern):
    while True:
        try:
            ln = q.get(timeout=GUARD)
        except queue.Empty:
            return None
        if ln is None or re.search(pattern, ln):
            return ln


def main():
    prog = sys.argv[1]
    if not shutil.which("openssl"):
        print("openssl is not installed: skipped")
        return 77
    procs = []
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost", "-keyout", key,
                        "-out", cert], check=True, capture_output=True)
        srv = subprocess.Popen([prog, "0", cert, key], stdout=subprocess.PIPE,
                               text=True)
        procs.append(srv)
        try:
            m = re.match(r"chat on 127\.0\.0\.1:(\d+) \(TLS\)",
                         srv.stdout.readline())
            assert m, "no listening line"
            port = m.group(1)
            clients = []
            for i in range(2):
                c = subprocess.Popen(
                    ["openssl", "s_client", "-connect", "127.0.0.1:" + port,
                     "-servername", "localhost", "-CAfile", cert,
                     "-verify_return_error", "-quiet"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
                procs.append(c)
                q = lines_of(c)
                got = expect(q, r"welcome")
                print("c%d got: %r" % (i, got))
                assert got == "welcome c%d" % i, got
                clients.append((c, q))
            # a plain TCP client: its handshake fails, nobody else notices
            plain = socket.create_connection(("127.0.0.1", int(port)),
                                             timeout=GUARD)
            plain.sendall(b"hello in plain text\n")
            (c0, q0), (c1, q1) = clients
            c0.stdin.write("hello over tls\n")
            c0.stdin.flush()
            got = expect(q1, r"hello over tls")
            print("c1 heard: %r" % got)
            assert got == "c0: hello over tls", got
            c1.stdin.write("and back\n")
            c1.stdin.flush()
            got = expect(q0, r"and back")
            print("c0 heard: %r" % got)
            assert got == "c1: and back", got
            plain.close()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    print("chat over TLS: two s_client sessions chatted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
