#!/usr/bin/env python3
"""examples/tls_echo.py TLS_ECHO - the test of examples/tls_echo.c with
clients no one here wrote: makes a P-256 certificate for localhost with
`openssl req` in a temporary directory, starts the server for 3
connections on a free loopback port, then
  1. `openssl s_client -alpn echo -servername localhost` verifying against
     the certificate: a line sent comes back;
  2. `curl --cacert` over HTTPS: the fixed 200 reply, ALPN http/1.1;
  3. `openssl s_client` verifying against another CA: the handshake fails
     on the client's side, the server reports the client's alert;
and checks the server's line per connection (ALPN, SNI, result)."""
import os
import re
import subprocess
import sys
import tempfile

DEADLINE = 30  # seconds: a hang guard only


def make_cert(d, name):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost", "-keyout", key, "-out",
                    cert], check=True, capture_output=True)
    return cert, key


def main():
    prog = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d, "server")
        other, _ = make_cert(d, "other")
        srv = subprocess.Popen([prog, cert, key, "0", "3"],
                               stdout=subprocess.PIPE, text=True)
        try:
            m = re.match(r"listening on 127\.0\.0\.1:(\d+)",
                         srv.stdout.readline())
            assert m, "no listening line"
            port = m.group(1)
            # 1. s_client echo: send a line, read it back, then end
            # stdin: with -no_ign_eof s_client then sends close_notify
            line = "hello over weft tls"
            cl = subprocess.Popen(
                ["openssl", "s_client", "-connect", "127.0.0.1:" + port,
                 "-alpn", "echo", "-servername", "localhost", "-CAfile",
                 cert, "-verify_return_error", "-quiet", "-no_ign_eof"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                cl.stdin.write(line + "\n")
                cl.stdin.flush()
                back = cl.stdout.readline().rstrip("\n")
                print("s_client:", back)
                cl.stdin.close()
                cl.wait(timeout=DEADLINE)
            finally:
                if cl.poll() is None:
                    cl.kill()
                    cl.wait()
            assert back == line, "echo did not come back"
            # 2. curl over HTTPS
            out = subprocess.run(
                ["curl", "-sS", "--cacert", cert, "--resolve",
                 "localhost:%s:127.0.0.1" % port,
                 "https://localhost:%s/" % port],
                capture_output=True, text=True, timeout=DEADLINE)
            print("curl:", out.stdout.strip(), out.stderr.strip())
            assert out.returncode == 0 and out.stdout == "hello over TLS\n"
            # 3. a client that trusts another CA
            out = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:" + port,
                 "-servername", "localhost", "-CAfile", other,
                 "-verify_return_error"],
                input="", capture_output=True, text=True, timeout=DEADLINE)
            print("s_client (other CA): rc", out.returncode)
            assert out.returncode != 0, "verification should fail"
            lines = srv.communicate(timeout=DEADLINE)[0].splitlines()
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
        for l in lines:
            print("server:", l)
        assert srv.returncode == 0, "server exit %d" % srv.returncode
        assert "conn: alpn=echo sni=localhost res=0" in lines[0], lines
        assert "conn: alpn=http/1.1 sni=localhost res=0" in lines[1], lines
        assert re.match(r"conn: alpn=- sni=localhost res=-71 .+", lines[2]), \
            lines
    print("tls_echo: s_client echo, curl HTTPS and a bad certificate ok")


main()
