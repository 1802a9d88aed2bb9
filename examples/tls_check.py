"""examples/tls_check.py - what the TLS example tests share
(examples/http/https_test.py, examples/proxy_tls.py): a check that prints
one TAP-like line and remembers failures, and a throwaway certificate."""
import os
import subprocess

failures = []


def check(cond, name, detail=""):
    print(("ok - " if cond else "FAIL - ") + name +
          ("" if cond else ": " + str(detail)[:600]))
    if not cond:
        failures.append(name)


def make_cert(d, name, cn="localhost"):
    """A self-signed P-256 certificate for cn (one day) and its key, made
    by `openssl req` in directory d: (cert path, key path)."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:" + cn, "-keyout", key, "-out",
                    cert], check=True, capture_output=True)
    return cert, key
