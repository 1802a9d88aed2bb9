#!/usr/bin/env python3
"""test/bench/servers.py - regression tests for weft-bench's servers
(tcp_echo_server, http_server: bench/net.c), from the abuse run of
2026-12-01 (issue 16).

    servers.py PATH/TO/weft-bench CHECK [--sanitized]

CHECK is one of
  pause   a server paused (SIGSTOP, SIGCONT) or interrupted keeps serving:
          its --max-seconds watcher treats only the real deadline as the
          deadline (it used to exit on the EINTR); a server whose deadline
          passes while it is interrupted again and again still exits by
          itself
  memory  N idle HTTP connections (none sent a byte, then each after one
          request answered) grow the server's RSS by less than 16 KiB per
          connection (it used to be ~94 KiB: 8 KiB + 80 KiB of buffers
          inline in every connection's frame); skipped (77) with
          --sanitized, whose shadow memory and quarantine are no measure
  parse   the http server follows the peers' hand-parsed rule
          (../shared/peers/README.md, 11): a bare LF just before the blank
          line leaves an empty line in the head, which is not a header:
          400 and close (it used to answer 200); the cases beside it keep
          their answers

The servers listen on 127.0.0.1 only (a free port picked here), are
stopped by their PID, and nothing is timing-dependent to pass: waits are
generous bounds on events that happen in microseconds. Exit 0 pass, 1 fail,
77 skip (meson's conventions).
"""
import os
import resource
import signal
import socket
import subprocess
import sys
import time

BIN = None
# meson test sets MALLOC_PERTURB_, which makes glibc fill every block it
# hands out (resident at once): the servers run without it
SERVER_ENV = {k: v for k, v in os.environ.items() if k != "MALLOC_PERTURB_"}
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """weft-bench WORKLOAD --port P --max-seconds S, up and connectable."""

    def __init__(self, workload, max_seconds=120):
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [BIN, workload, "--port", str(self.port),
                 "--max-seconds", str(max_seconds)],
                env=SERVER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_up():
                return
            self.stop()
        raise SystemExit("FAIL: %s never listened" % workload)

    def _wait_up(self):
        # the server prints "listening" after binding; connect to be sure
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        """After it exited: what it wrote on stderr (once)."""
        if self.proc.poll() is None or self.proc.stderr.closed:
            return ""
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return err

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.proc.stderr.closed:
            err = self.proc.stderr.read().decode(errors="replace")
            self.proc.stderr.close()
            # a sanitizer build's reports (UBSan's do not stop the server)
            if "Sanitizer" in err or "runtime error:" in err:
                fail("sanitizer report from the server:\n" + err)

    def status_kb(self, key):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(10)
    return s


def read_until_close(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return out, True
            out += b
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def read_responses(s, count):
    """Reads count complete 200 responses (each ends with the 13-byte
    body) or until the peer closes; returns the bytes."""
    out = b""
    while out.count(b"Hello, World!") < count:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return out


def http_get_ok(port):
    try:
        with connect(port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            r = read_responses(s, 1)
            return r.startswith(b"HTTP/1.1 200 OK\r\n") and \
                r.endswith(b"Hello, World!")
    except OSError:
        return False


def echo_ok(port):
    try:
        with connect(port) as s:
            s.sendall(b"ping")
            got = b""
            while len(got) < 4:
                b = s.recv(16)
                if not b:
                    break
                got += b
            return got == b"ping"
    except OSError:
        return False


# ----------------------------------------------------------------- pause

def check_pause():
    for workload, ok in (("http_server", http_get_ok),
                         ("tcp_echo_server", echo_ok)):
        srv = Server(workload)
        try:
            if not ok(srv.port):
                fail("%s: does not serve before the pause" % workload)
                continue
            for i in range(3):
                os.kill(srv.pid, signal.SIGSTOP)
                time.sleep(0.2)
                os.kill(srv.pid, signal.SIGCONT)
                # the old watcher _exit(0)s on the EINTR at once; a serve
                # after the CONT runs after it
                if not ok(srv.port):
                    fail("%s: does not serve after SIGSTOP/SIGCONT %d "
                         "(exited: %s)" % (workload, i + 1,
                                           srv.proc.poll()))
                    break
            time.sleep(0.2)
            if not srv.alive():
                fail("%s: exited after SIGSTOP/SIGCONT: %s" %
                     (workload, srv.stderr().strip()))
        finally:
            srv.stop()

    # the real deadline still ends it, interruptions or not: 1 s, paused
    # and resumed in its first 0.6 s
    srv = Server("http_server", max_seconds=1)
    try:
        for _ in range(3):
            os.kill(srv.pid, signal.SIGSTOP)
            time.sleep(0.1)
            os.kill(srv.pid, signal.SIGCONT)
            time.sleep(0.1)
        try:
            rc = srv.proc.wait(60)
        except subprocess.TimeoutExpired:
            fail("http_server --max-seconds 1: still running after 60 s")
            return
        err = srv.stderr()
        if rc != 0 or "--max-seconds reached" not in err:
            fail("http_server --max-seconds 1: exit %d, stderr %r" %
                 (rc, err))
    finally:
        srv.stop()


# ---------------------------------------------------------------- memory

BOUND_KB = 16


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft if soft != resource.RLIM_INFINITY else need
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def check_memory(sanitized):
    if sanitized:
        print("skip: sanitizer build (RSS is no measure)")
        sys.exit(77)
    n = int(os.environ.get("WEFT_TEST_IDLE_CONNS", "2000"))
    warm = 200
    # the server inherits the raised limit; both hold n + warm sockets
    limit = raise_nofile(n + warm + 200)
    if limit < n + warm + 100:
        n = limit - warm - 100
    if n < 500:
        print("skip: RLIMIT_NOFILE %d too low" % limit)
        sys.exit(77)
    srv = Server("http_server")
    conns = []
    try:
        base_fds = srv.fds()
        # warm-up: connections that were served and closed, so that the
        # runtime's and allocator's fixed costs are paid before "before"
        for _ in range(2):
            ws = [connect(srv.port) for _ in range(warm)]
            for s in ws:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            for s in ws:
                read_responses(s, 1)
            for s in ws:
                s.close()
        # the closes reach the server (base_fds may still have counted
        # the probe connection of Server's start)
        deadline = time.monotonic() + 60
        while srv.fds() > base_fds and time.monotonic() < deadline:
            time.sleep(0.01)
        if srv.fds() > base_fds:
            fail("memory: %d descriptors after the warm-up, %d before" %
                 (srv.fds(), base_fds))
            return
        time.sleep(0.2)
        base_fds = srv.fds()
        before = srv.status_kb("VmRSS")

        conns = [connect(srv.port) for _ in range(n)]
        # every connection accepted (its socket in the server) ...
        deadline = time.monotonic() + 60
        while srv.fds() < base_fds + n and time.monotonic() < deadline:
            time.sleep(0.01)
        if srv.fds() < base_fds + n:
            fail("memory: the server holds %d descriptors, expected %d" %
                 (srv.fds(), base_fds + n))
            return
        # ... and its task spawned: accepts are taken in order, so once a
        # later connection is answered the earlier ones have their tasks
        if not http_get_ok(srv.port):
            fail("memory: the server does not answer beside %d idle "
                 "connections" % n)
            return
        time.sleep(0.3)
        silent = srv.status_kb("VmRSS")

        # one request answered on each: idle again, after a request
        for s in conns:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for i, s in enumerate(conns):
            r = read_responses(s, 1)
            if not r.startswith(b"HTTP/1.1 200 OK\r\n"):
                fail("memory: connection %d answered %r" % (i, r[:40]))
                return
        time.sleep(0.3)
        served = srv.status_kb("VmRSS")
        per_silent = (silent - before) / n
        per_served = (served - before) / n
        print("memory: %d idle connections: RSS %d kB before, %d kB "
              "silent (%.2f KiB each), %d kB after one request each "
              "(%.2f KiB each); bound %d KiB" %
              (n, before, silent, per_silent, served, per_served, BOUND_KB))
        if per_silent >= BOUND_KB:
            fail("memory: %.2f KiB per idle connection (no byte sent), "
                 "bound %d KiB" % (per_silent, BOUND_KB))
        if per_served >= BOUND_KB:
            fail("memory: %.2f KiB per idle connection (one request "
                 "served), bound %d KiB" % (per_served, BOUND_KB))
    finally:
        for s in conns:
            s.close()
        srv.stop()


# ----------------------------------------------------------------- parse

# (request bytes, expected status, closes) per the tokio peer's
# close_after: the head (before the first CRLFCRLF) split at every LF, one
# CR before it dropped; the first line ends in " HTTP/1.1" or " HTTP/1.0";
# every other line, empty ones included, must hold a colon.
PARSE_CASES = [
    (b"GET / HTTP/1.1\r\nHost: x\n\r\n\r\n", 400, True),   # the finding
    (b"GET / HTTP/1.1\r\nHost: x\r\n\n\r\n\r\n", 400, True),  # empty line
    (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, True),     # no colon
    (b"GET / HTTP/1.1\r\n\nHost: x\r\n\r\n", 400, True),  # empty first
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, True),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, False),
    (b"GET / HTTP/1.1\r\n\r\n", 200, False),
    (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 200, False),     # bare LF inside
    (b"GET / HTTP/1.1\r\nHost: x\nAccept: */*\r\n\r\n", 200, False),
    (b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 200, False),
    (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 200, True),
    (b"GET / HTTP/1.0\r\n\r\n", 200, True),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, False),
]


def check_parse():
    srv = Server("http_server")
    try:
        for req, status, closes in PARSE_CASES:
            with connect(srv.port) as s:
                s.sendall(req)
                if closes:
                    r, closed = read_until_close(s)
                else:
                    r = read_responses(s, 1)
                    s.settimeout(0.2)
                    try:
                        extra = s.recv(1)
                        closed = extra == b""
                    except socket.timeout:
                        closed = False
                head = ("HTTP/1.1 %d " % status).encode()
                if not r.startswith(head):
                    fail("parse: %r answered %r, expected %d" %
                         (req, r[:40], status))
                elif closed != closes:
                    fail("parse: %r: connection %s, expected %s" %
                         (req, "closed" if closed else "kept",
                          "closed" if closes else "kept"))
                else:
                    print("ok %r -> %d%s" % (req, status,
                                              ", closed" if closes else ""))
        # pipelined: two answers, then the bare-LF one refused (the peer
        # writes the 400 alone: the answers queued before it are dropped)
        with connect(srv.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            r = read_responses(s, 2)
            if r.count(b"HTTP/1.1 200 OK\r\n") != 2:
                fail("parse: two pipelined requests answered %r" % r)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\n\r\n\r\n")
            r, closed = read_until_close(s)
            if not r.startswith(b"HTTP/1.1 400 ") or not closed:
                fail("parse: bare LF after keep-alive requests: %r" % r)
        check_buffers(srv.port)
        if not srv.alive():
            fail("parse: the server exited")
    finally:
        srv.stop()


def check_buffers(port):
    """The read buffer's moves between the frame's 1 KiB and the heap's
    8 KiB, and the output buffer's growth: pipelined bursts, heads up to
    the peer's 8 KiB limit, a head split over reads, one too large."""
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(port) as s:
        for burst in (1, 7, 40, 300, 3000):
            s.sendall(req * burst)
            r = read_responses(s, burst)
            if r.count(b"HTTP/1.1 200 OK\r\n") != burst:
                fail("parse: %d pipelined requests: %d answers" %
                     (burst, r.count(b"HTTP/1.1 200 OK\r\n")))
                return
        print("ok pipelined bursts of 1, 7, 40, 300, 3000 requests")
    for size in (1000, 1024, 3000, 8000):
        head = b"GET / HTTP/1.1\r\nX: " + b"a" * (size - 23) + b"\r\n\r\n"
        assert len(head) == size
        with connect(port) as s:
            # in two writes, the first one filling the small buffer
            s.sendall(head[:1500])
            time.sleep(0.05)
            s.sendall(head[1500:] + req)
            r = read_responses(s, 2)
            if r.count(b"HTTP/1.1 200 OK\r\n") != 2:
                fail("parse: a %d-byte head then a request: %r" %
                     (size, r[:60]))
            else:
                print("ok a %d-byte head then a request" % size)
    with connect(port) as s:
        # past 8 KiB without the end of a head: 431, closed (issue 16's
        # abuse tests: it used to close without a word)
        s.sendall(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000)
        r, closed = read_until_close(s)
        if not r.startswith(b"HTTP/1.1 431 ") or not closed:
            fail("parse: a head past 8 KiB: %r, %s" %
                 (r[:40], "closed" if closed else "kept open"))
        else:
            print("ok a head past 8 KiB: 431, closed")


def main():
    global BIN
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    BIN = sys.argv[1]
    check = sys.argv[2]
    sanitized = "--sanitized" in sys.argv[3:]
    if check == "pause":
        check_pause()
    elif check == "memory":
        check_memory(sanitized)
    elif check == "parse":
        check_parse()
    else:
        print("unknown check %r" % check, file=sys.stderr)
        return 2
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
