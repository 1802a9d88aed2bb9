#!/usr/bin/env python3
"""examples/redis/test.py SERVER - runs weft-redis (examples/redis) on a
free loopback port and checks it with redis-cli and raw sockets: every
command and its error replies (as redis-server 7 gives them), pipelining
(many requests in one write, inline and multibulk), protocol errors (the
error reply, then the connection closes), a bulk split across writes,
--max-bulk, expiry (PX, polled, no fixed sleep decides the result), a
short redis-benchmark run with no errors, SIGTERM and --max-seconds.
Exits 77 (skipped) when redis-cli or redis-benchmark is missing."""
import atexit, os, shutil, signal, socket, subprocess, sys, time

SERVER = sys.argv[1]
for tool in ("redis-cli", "redis-benchmark"):
    if not shutil.which(tool):
        print(f"{tool} not installed: skipped")
        sys.exit(77)

failures = []
servers = []

def kill_servers():
    for p in servers:
        if p.poll() is None:
            p.kill()
            p.wait()

atexit.register(kill_servers)     # also when a check raises (a hang guard)

def check(what, got, want):
    # a TTL read back a second or more after its EXPIRE (each case is a
    # redis-cli process: a slow host, a sanitizer build) is one lower, as
    # redis-server's would be
    if what.startswith("TTL ") and want == "100" and got == "99":
        return
    if got != want:
        failures.append(what)
        print(f"FAIL {what}: got {got!r}, want {want!r}")

def start(*args):
    p = subprocess.Popen([SERVER, "--port", "0"] + list(args),
                         stdout=subprocess.PIPE, text=True)
    servers.append(p)
    line = p.stdout.readline()
    if not line.startswith("listening on 127.0.0.1:"):
        print(f"server said {line!r}")
        p.kill()
        sys.exit(1)
    return p, int(line.rsplit(":", 1)[1])

srv, port = start("--max-seconds", "110")

def cli(*args):
    r = subprocess.run(["redis-cli", "-p", str(port)] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.stdout.rstrip("\n")

# (command, redis-cli's output) in order: the store's state carries on
NOTINT = "ERR value is not an integer or out of range"
OVF = "ERR increment or decrement would overflow"
def arity(c):
    return f"ERR wrong number of arguments for '{c}' command"
CASES = [
    ("PING", "PONG"), ("PING hi", "hi"), ("PING a b", arity("ping")),
    ("ECHO hello", "hello"), ("ECHO", arity("echo")),
    ("ECHO a b", arity("echo")),
    ("SET a 1", "OK"), ("GET a", "1"), ("INCR a", "2"), ("GET nokey", ""),
    ("GET", arity("get")), ("GET a b", arity("get")), ("SET", arity("set")),
    ("SET a", arity("set")),
    ("FOO bar baz",
     "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' "),
    ("foo", "ERR unknown command 'foo', with args beginning with: "),
    ("SET a x", "OK"), ("INCR a", NOTINT), ("DECRBY a 1", NOTINT),
    ("SET n 9223372036854775807", "OK"), ("INCR n", OVF),
    ("INCRBY n -1", "9223372036854775806"),
    ("SET m -9223372036854775808", "OK"), ("DECR m", OVF),
    ("DECRBY m 9223372036854775808", NOTINT),
    ("INCRBY k 9223372036854775808", NOTINT), ("INCRBY k 1x", NOTINT),
    ("INCR i", "1"), ("INCR i", "2"), ("DECR i", "1"),
    ("INCRBY i 10", "11"), ("DECRBY i 20", "-9"),
    ("INCR", arity("incr")), ("DECR", arity("decr")),
    ("INCRBY a", arity("incrby")), ("DECRBY a", arity("decrby")),
    ("SET a 1 EX 0", "ERR invalid expire time in 'set' command"),
    ("SET a 1 EX -1", "ERR invalid expire time in 'set' command"),
    ("SET a 1 EX x", NOTINT),
    ("SET a 1 PX 9223372036854775807",
     "ERR invalid expire time in 'set' command"),
    ("SET a 1 NX XX", "ERR syntax error"), ("SET a 1 FOO", "ERR syntax error"),
    ("SET a 1 EX", "ERR syntax error"),
    ("SET a 1 NX", ""), ("SET a 2 GET", "x"), ("GET a", "2"),
    ("SET new 1 XX", ""), ("SET new 1 NX", "OK"),
    ("EXPIRE a x", NOTINT), ("EXPIRE a 100", "1"), ("TTL a", "100"),
    ("EXPIRE a 9223372036854775807",
     "ERR invalid expire time in 'expire' command"),
    ("PEXPIRE a 9223372036854775807",
     "ERR invalid expire time in 'pexpire' command"),
    ("EXPIRE nokey 10", "0"), ("TTL nokey", "-2"), ("PTTL nokey", "-2"),
    ("TTL n", "-1"), ("PTTL n", "-1"), ("PERSIST a", "1"), ("TTL a", "-1"),
    ("TTL", arity("ttl")), ("PTTL", arity("pttl")),
    ("EXPIRE a", arity("expire")), ("PEXPIRE a", arity("pexpire")),
    ("MSET x 1 y 2", "OK"), ("MGET x y z", "1\n2"),
    ("MSET x", arity("mset")), ("MSET x 1 y", arity("mset")),
    ("MGET", arity("mget")),
    ("EXISTS x y z", "2"), ("EXISTS x x", "2"), ("EXISTS", arity("exists")),
    ("DEL x y z", "2"), ("DEL x", "0"), ("DEL", arity("del")),
    ("EXPIRE a -1", "1"), ("EXISTS a", "0"),
    ("SET e 1 EX 100", "OK"), ("SET e 2", "OK"), ("TTL e", "-1"),
    ("SET e 1 EX 100", "OK"), ("SET e 3 KEEPTTL", "OK"), ("TTL e", "100"),
    ("CONFIG GET appendonly", "appendonly\nno"),
    ("CONFIG GET save", "save"),
    ("FLUSHALL", "OK"), ("DBSIZE", "0"),
]
for cmd, want in CASES:
    check(cmd, cli(*cmd.split()), want)

# raw sockets: pipelining, protocol errors, a split bulk
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s

def read_until_closed(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b

def read_n(s, n):
    data = b""
    while len(data) < n:
        b = s.recv(65536)
        if not b:
            break
        data += b
    return data

def bulk(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

N = 2000
s = conn()
req = b"".join(bulk("INCR", "ctr") if i % 2 else b"PING\r\n"
               for i in range(N)) + b"QUIT\r\n"
s.sendall(req)                       # one write, many requests
want = b"".join(b":%d\r\n" % (i // 2 + 1) if i % 2 else b"+PONG\r\n"
                for i in range(N)) + b"+OK\r\n"
check("pipeline of %d requests + QUIT" % N, read_until_closed(s), want)
s.close()

PROTO = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*2000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n+x\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$999999999999\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"PING\r\n*1\r\n$x\r\n",
     b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
    (b"x" * (70 * 1024),
     b"-ERR Protocol error: too big inline request\r\n"),
]
for data, want in PROTO:
    s = conn()
    s.sendall(data)
    check("protocol error %r" % data[:24], read_until_closed(s), want)
    s.close()

# a 1 MiB value, sent in small pieces, then read back
val = bytes(i % 251 for i in range(1 << 20))
s = conn()
req = bulk("SET", "big", val) + bulk("GET", "big")
for i in range(0, len(req), 7777):
    s.sendall(req[i:i + 7777])
want = b"+OK\r\n$%d\r\n%s\r\n" % (len(val), val)
check("1 MiB bulk in pieces", read_n(s, len(want)), want)
s.close()

# expiry: PX small, poll PTTL until the key is gone (a hang guard only)
check("SET PX", cli("SET", "tmp", "v", "PX", "30"), "OK")
ttl = int(cli("PTTL", "tmp"))
check("PTTL within PX", 0 <= ttl <= 30 or ttl == -2, True)
deadline = time.monotonic() + 20
while cli("PTTL", "tmp") != "-2" and time.monotonic() < deadline:
    time.sleep(0.01)
check("PTTL after expiry", cli("PTTL", "tmp"), "-2")
check("GET after expiry", cli("GET", "tmp"), "")
check("PEXPIRE", cli("SET", "t2", "v") + cli("PEXPIRE", "t2", "20"), "OK1")
while cli("EXISTS", "t2") != "0" and time.monotonic() < deadline:
    time.sleep(0.01)
check("EXISTS after PEXPIRE", cli("EXISTS", "t2"), "0")
# the sweeper removes expired keys nobody touches: DBSIZE counts them
cli("FLUSHALL")
for i in range(50):
    cli("SET", "sw%d" % i, "v", "PX", "10")
while cli("DBSIZE") != "0" and time.monotonic() < deadline:
    time.sleep(0.05)
check("sweeper emptied the store", cli("DBSIZE"), "0")

# redis-benchmark: ping_inline, set, get complete, no errors
r = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", "20000",
                    "-t", "ping_inline,set,get"],
                   capture_output=True, text=True, timeout=60)
out = r.stdout.replace("\r", "\n")
lines = [l.strip() for l in out.split("\n")
         if "requests per second" in l]
print("redis-benchmark:", "; ".join(lines))
check("redis-benchmark exit", r.returncode, 0)
check("redis-benchmark tests", [l.split(":")[0] for l in lines],
      ["PING_INLINE", "SET", "GET"])
check("redis-benchmark errors", "rror" in r.stdout + r.stderr, False)

# SIGTERM: stops and exits 0
srv.send_signal(signal.SIGTERM)
rest = srv.stdout.read()
check("SIGTERM exit", srv.wait(timeout=30), 0)
check("SIGTERM line", rest.startswith("SIGTERM: stopped"), True)


# --max-bulk lower, and --max-seconds ends the server by itself
srv, port = start("--max-bulk", "16", "--max-seconds", "1")
s = conn()
s.sendall(bulk("SET", "k", "x" * 16) + bulk("SET", "k", "x" * 17))
check("--max-bulk 16", read_until_closed(s),
      b"+OK\r\n-ERR Protocol error: invalid bulk length\r\n")
s.close()
check("--max-seconds exit", srv.wait(timeout=30), 0)
check("--max-seconds line", srv.stdout.read().startswith("max-seconds"), True)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print(f"redis example: all checks passed ({len(CASES)} commands)")
