#!/usr/bin/env python3
"""examples/graceful.py PROGRAM - the test of examples/graceful.c.

Starts the server (any port, a 3 s deadline), connects two clients and
checks each is echoed, sends the server SIGTERM, then checks: the server
says it stopped accepting with 2 connections in flight; a new client is
refused, or reset unserved if its handshake beat the listener's close; the first client is still served and then closes; the second
stays open, so at the deadline the server cuts it off (the client sees the
connection end) and exits 0. Every wait has a generous hang guard; nothing
depends on timing to pass but the order of events.
"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time


def fail(msg, proc=None):
    if proc:
        proc.kill()
        out, _ = proc.communicate()
        sys.stderr.write(out)
    sys.exit("graceful.py: " + msg)


def line(proc, guard=20.0):
    r, _, _ = select.select([proc.stdout], [], [], guard)
    if not r:
        fail("no output from the server within %.0f s" % guard, proc)
    s = proc.stdout.readline()
    sys.stdout.write(s)
    return s


def echo(c, data):
    c.sendall(data)
    got = b""
    c.settimeout(20)
    while len(got) < len(data):
        b = c.recv(4096)
        if not b:
            break
        got += b
    return got


def main():
    proc = subprocess.Popen([sys.argv[1], "0", "3000"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    m = re.match(r"^listening on 127\.0\.0\.1:(\d+)$", line(proc).strip())
    if not m:
        fail("no listening line", proc)
    port = int(m.group(1))
    c1 = socket.create_connection(("127.0.0.1", port), timeout=20)
    c2 = socket.create_connection(("127.0.0.1", port), timeout=20)
    if echo(c1, b"one\n") != b"one\n" or echo(c2, b"two\n") != b"two\n":
        fail("no echo before the signal", proc)
    os.kill(proc.pid, signal.SIGTERM)
    s = line(proc)
    if "SIGTERM: stopped accepting, 2 connection(s) in flight" not in s:
        fail("unexpected line after SIGTERM: %r" % s, proc)
    # The listener's descriptor is closed once the reactor has cancelled
    # its accept (weft_listener_drop), a moment after the line: until then
    # the kernel may still complete a handshake into the backlog, and that
    # connection is reset when the descriptor closes. Either way a new
    # client is never served.
    try:
        c3 = socket.create_connection(("127.0.0.1", port), timeout=20)
        try:
            if echo(c3, b"late\n") != b"":
                fail("a new client was served after the signal", proc)
        except (ConnectionResetError, BrokenPipeError):
            pass
        c3.close()
    except ConnectionRefusedError:
        pass
    if echo(c1, b"still here\n") != b"still here\n":
        fail("the client in flight was not served after the signal", proc)
    c1.close()
    s = line(proc)
    if "deadline passed: 1 connection(s) cut off" not in s:
        fail("unexpected line at the deadline: %r" % s, proc)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        fail("the server did not exit", proc)
    if rc != 0:
        fail("the server exited %d" % rc, proc)
    c2.settimeout(20)
    try:
        if c2.recv(16) != b"":
            fail("the cut-off client received data")
    except ConnectionResetError:
        pass
    c2.close()
    print("graceful.py: ok")


main()
