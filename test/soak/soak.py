#!/usr/bin/env python3
"""test/soak/soak.py - the soak test (issue 16; meson -Dsoak=true).

    soak.py WEFT_BENCH HTTP REDIS CHAT SVG_OUT

Runs four weft servers for WEFT_SOAK_SECONDS (default 3600) under a mixed
load, in rounds of 10 s:
  echo   weft-bench tcp_echo_server: 8 persistent clients echoing, and a
         storm of 100 connections opened and closed every round (a task
         spawned and dropped per connection);
  http   examples/http: keep-alive GETs, and clients that send half a head
         and stay up to 20 at a time (the header timeout, 1 s, fires on
         some) or vanish (their reads cancelled);
  redis  examples/redis: SET with PX 1..200 ms (timers in the store's
         expiry), GET, EXPIRE, DEL over 1 000 keys;
  chat   examples/chat: 6 clients sending lines through its broadcast
         channel, one of them reading only once a minute (it lags:
         -EOVERFLOW, then carries on). A client that never reads at all
         stops the server's writes to it for good, and with them the
         server's reads of its lines (one task per client, as in
         tokio's chat): its lines pile up in the server's receive
         buffer, and a machine under TCP memory pressure drops them
         until the client's kernel gives up (ETIMEDOUT after ~15 min of
         retransmits; the 2026-12-01 22:47 run): a kernel outcome, not
         the server's, so the slow reader drains now and then.
At the end of each round the load pauses (storm and half-open clients
closed, persistent clients idle but connected), and each server's RSS (/proc/PID/status) and descriptor count
(/proc/PID/fd: the fewest seen within 3 s, as closes complete) are
sampled. After the warm-up (the first fifth of the run,
at least two rounds), every server's RSS must stay within 5 % of the
median of its samples after warm-up (or 1 MiB, whichever is larger: these
processes hold 7-30 MiB and their RSS moves by allocator pages), its
descriptor count equal to its first sample after warm-up, and the server
alive. Writes a hand-made SVG plot of both series per server to SVG_OUT
and prints the samples. Loopback only; kills only its own servers.
Exit 0 pass, 1 fail.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import procstat  # noqa: E402  (test/procstat.py)

BENCH, HTTP, REDIS, CHAT, SVG = sys.argv[1:6]
SECONDS = int(os.environ.get("WEFT_SOAK_SECONDS", "3600"))
ROUND = 10.0
ENV = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


rss_kb = procstat.rss_kb
nfds = procstat.fd_count


class Srv:
    def __init__(self, name, args):
        self.name = name
        self.port = free_port()
        self.proc = subprocess.Popen([a.replace("PORT", str(self.port))
                                      for a in args], env=ENV,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit("FAIL: %s did not start" % name)
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.samples = []  # (t, rss_kb, fds)

    def conn(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def recv_http(s, buf):
    while b"\r\n\r\n" not in buf[0]:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    i = buf[0].index(b"\r\n\r\n") + 4
    head = buf[0][:i]
    n = 0
    for l in head.split(b"\r\n"):
        if l.lower().startswith(b"content-length:"):
            n = int(l.split(b":")[1])
    while len(buf[0]) < i + n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf[0] += d
    status = int(head.split(b" ")[1])
    buf[0] = buf[0][i + n:]
    return status


STOP = threading.Event()
CHURN = threading.Event()  # set: load runs; clear: paused for a sample
ERRORS = []
COUNTS = {"echo": 0, "storm": 0, "http": 0, "halfopen": 0, "redis": 0,
          "chat": 0}


def guard(fn):
    def run(*a):
        try:
            fn(*a)
        except Exception as e:  # a load thread failing is a failure
            if not STOP.is_set():
                ERRORS.append("%s: %r" % (fn.__name__, e))
    return run


@guard
def echo_client(srv):
    s = srv.conn()
    msg = b"soak-echo-" * 20
    while not STOP.is_set():
        if not CHURN.wait(0.1):
            continue  # paused for the sample
        s.sendall(msg)
        if recv_exact(s, len(msg)) != msg:
            ERRORS.append("echo: wrong bytes")
            return
        COUNTS["echo"] += 1
        time.sleep(0.002)
    s.close()


@guard
def echo_storm(srv):
    while not STOP.is_set():
        if not CHURN.wait(0.1):
            continue
        socks = []
        for _ in range(100):
            socks.append(srv.conn())
        for s in socks:
            s.sendall(b"x")
        for s in socks:
            recv_exact(s, 1)
            s.close()
        COUNTS["storm"] += 100
        time.sleep(0.5)


@guard
def http_client(srv):
    s = srv.conn()
    buf = [b""]
    while not STOP.is_set():
        if not CHURN.wait(0.1):
            continue  # paused for the sample
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        if recv_http(s, buf) != 200:
            ERRORS.append("http: not 200")
            return
        COUNTS["http"] += 1
        time.sleep(0.005)
    s.close()


@guard
def http_halfopen(srv):
    held = []
    while not STOP.is_set():
        if not CHURN.wait(0.1):
            for s in held:
                s.close()
            held = []
            continue
        s = srv.conn()
        s.sendall(b"GET /index.html HTTP/1.1\r\nHo")
        held.append(s)
        COUNTS["halfopen"] += 1
        if len(held) > 20:
            held.pop(0).close()  # vanish mid-head: the read is cancelled
        time.sleep(0.05)


@guard
def redis_client(srv):
    s = srv.conn()
    rnd = random.Random(7)
    buf = b""

    def cmd(*args):
        nonlocal buf
        out = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        s.sendall(out)
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        line, buf = buf.split(b"\r\n", 1)
        if line.startswith(b"$") and line != b"$-1":
            n = int(line[1:])
            while len(buf) < n + 2:
                buf += s.recv(65536)
            buf = buf[n + 2:]
        return line

    while not STOP.is_set():
        if not CHURN.wait(0.1):
            continue  # paused for the sample
        k = b"k%d" % rnd.randrange(1000)
        r = rnd.random()
        if r < 0.4:
            cmd(b"SET", k, b"v" * rnd.randrange(1, 200), b"PX",
                b"%d" % rnd.randrange(1, 200))
        elif r < 0.8:
            cmd(b"GET", k)
        elif r < 0.9:
            cmd(b"EXPIRE", k, b"1")
        else:
            cmd(b"DEL", k)
        COUNTS["redis"] += 1
    s.close()


@guard
def chat_client(srv, reads):
    s = srv.conn()
    s.setblocking(False)
    i = 0
    next_drain = time.monotonic() + 60
    while not STOP.is_set():
        if not CHURN.wait(0.1):
            continue  # paused for the sample
        try:
            s.send(b"hello %d from a soak client\n" % i)
            i += 1
            COUNTS["chat"] += 1
        except BlockingIOError:
            pass
        if reads or time.monotonic() >= next_drain:
            try:
                while s.recv(65536):
                    pass
            except BlockingIOError:
                pass
            next_drain = time.monotonic() + 60
        time.sleep(0.01)
    s.close()


def svg(servers, path):
    W, H, PAD = 900, 220, 50
    colors = {"echo": "#1f77b4", "http": "#d62728", "redis": "#2ca02c",
              "chat": "#9467bd"}
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"'
             ' font-family="sans-serif" font-size="12">' % (W, 2 * H + 40),
             '<rect width="100%" height="100%" fill="white"/>']
    tmax = max(max(t for t, _, _ in s.samples) for s in servers) or 1
    for row, (label, idx) in enumerate((("RSS (MiB)", 1), ("open fds", 2))):
        y0 = 20 + row * (H + 10)
        vals = [v[idx] / (1024.0 if idx == 1 else 1) for s in servers
                for v in s.samples]
        vmax = max(vals) * 1.1 or 1
        parts.append('<text x="%d" y="%d">%s, over %d s (soak, %s)</text>'
                     % (PAD, y0 + 12, label, tmax,
                        time.strftime("%Y-%m-%d")))
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
                     % (PAD, y0 + H - 20, W - 10, y0 + H - 20))
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
                     % (PAD, y0 + 20, PAD, y0 + H - 20))
        parts.append('<text x="5" y="%d">%.1f</text>' % (y0 + 30, vmax))
        parts.append('<text x="5" y="%d">0</text>' % (y0 + H - 20))
        for k, s in enumerate(servers):
            pts = " ".join(
                "%.1f,%.1f" % (PAD + (W - PAD - 10) * t / tmax,
                               y0 + H - 20 - (H - 40) *
                               (v[idx] / (1024.0 if idx == 1 else 1)) / vmax)
                for t, v in ((v[0], v) for v in s.samples))
            parts.append('<polyline fill="none" stroke="%s" stroke-width="2"'
                         ' points="%s"/>' % (colors[s.name], pts))
            parts.append('<text x="%d" y="%d" fill="%s">%s</text>'
                         % (W - 200 + 50 * k, y0 + 12, colors[s.name], s.name))
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    root = tempfile.mkdtemp(prefix="weft-soak-")
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"<p>soak</p>\n" * 50)
    servers = [Srv("echo", [BENCH, "tcp_echo_server", "--port", "PORT",
                            "--max-seconds", str(SECONDS + 300)]),
               Srv("http", [HTTP, "--port", "PORT", "--root", root,
                            "--header-timeout", "1000",
                            "--max-seconds", str(SECONDS + 300)]),
               Srv("redis", [REDIS, "--port", "PORT",
                             "--max-seconds", str(SECONDS + 300)]),
               Srv("chat", [CHAT, "PORT"])]
    by = {s.name: s for s in servers}
    threads = [threading.Thread(target=echo_client, args=(by["echo"],))
               for _ in range(8)]
    threads += [threading.Thread(target=echo_storm, args=(by["echo"],))]
    threads += [threading.Thread(target=http_client, args=(by["http"],))
                for _ in range(4)]
    threads += [threading.Thread(target=http_halfopen, args=(by["http"],))]
    threads += [threading.Thread(target=redis_client, args=(by["redis"],))
                for _ in range(4)]
    threads += [threading.Thread(target=chat_client,
                                 args=(by["chat"], i != 0)) for i in range(6)]
    start = time.monotonic()
    CHURN.set()
    for t in threads:
        t.daemon = True
        t.start()
    fails = []
    try:
        while time.monotonic() - start < SECONDS:
            time.sleep(ROUND - 1.5)
            CHURN.clear()
            time.sleep(1.5)  # churn closed, half-open ones dropped
            t = time.monotonic() - start
            for s in servers:
                if s.proc.poll() is not None:
                    fails.append("%s died" % s.name)
                    raise StopIteration
                # connections the clients closed may take the server a
                # moment (a lingering close): the fewest fds seen in 3 s
                fd = nfds(s.proc.pid)
                if s.samples:
                    end = time.monotonic() + 3
                    while fd > s.samples[0][2] and time.monotonic() < end:
                        time.sleep(0.1)
                        fd = min(fd, nfds(s.proc.pid))
                s.samples.append((t, rss_kb(s.proc.pid), fd))
            print("t=%5.0f %s %s" % (t, " ".join(
                "%s:%dKiB/%dfd" % (s.name, s.samples[-1][1], s.samples[-1][2])
                for s in servers), COUNTS), flush=True)
            CHURN.set()
            if ERRORS:
                break
    except StopIteration:
        pass
    STOP.set()
    CHURN.set()
    for s in servers:
        s.stop()
    fails += ERRORS
    warm = max(2, len(servers[0].samples) // 5)
    for s in servers:
        after = s.samples[warm:]
        if not after:
            fails.append("%s: too few samples" % s.name)
            continue
        r0, f0 = after[0][1], after[0][2]
        rmin = min(v[1] for v in after)
        rmax = max(v[1] for v in after)
        fset = sorted(set(v[2] for v in after))
        print("%s: after warm-up RSS %d..%d KiB (first %d, %+.1f %%), fds %s"
              % (s.name, rmin, rmax, r0, 100.0 * (rmax - r0) / r0, fset))
        # flat: every sample within 5 % of the median (or 1 MiB, for
        # these small processes whose RSS moves by allocator pages)
        med = sorted(v[1] for v in after)[len(after) // 2]
        tol = max(0.05 * med, 1024)
        if rmax > med + tol or rmin < med - tol:
            fails.append("%s: RSS not flat within 5 %% of %d KiB"
                         % (s.name, med))
        if fset != [f0]:
            fails.append("%s: fds changed %s" % (s.name, fset))
    print("requests: %s" % COUNTS)
    svg(servers, SVG)
    if fails:
        print("FAIL: " + "; ".join(fails))
        return 1
    print("ok - soak %d s" % SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
