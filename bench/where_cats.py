#!/usr/bin/env python3
"""bench/where_cats.py - a server's sampled CPU per message by kind of work.

    where_cats.py PERF_DATA MSGS_PER_SEC SECONDS SERVER_DSO

Reads `perf report --sort dso,sym` of PERF_DATA (perf record -g of the
server over SECONDS while it served MSGS_PER_SEC), converts the event count
(cpu-clock, ns) to microseconds per message and splits it into the TCP/IP
stack, the wake-ups it does for its peers (sock_def_readable, ttwu), the
scheduler (context switches, sched_yield), io_uring's and epoll's kernel
code, system call entry, memory (slab, skb), copies, other kernel code,
the server's own user-space code (SERVER_DSO: the binary's file name) and
libc. The patterns are by symbol name and coarse: a guide to where a
runtime's overhead sits, not an exact account. Called by bench/where.sh.
"""
import subprocess, sys, re, collections
data, rate, secs, own = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym",
                      "--stdio", "-g", "none", "--percent-limit", "0"], capture_output=True, text=True).stdout
ev = float(re.search(r"Event count \(approx.\): (\d+)", out).group(1))
cats = collections.OrderedDict((k, 0.0) for k in
    ["tcp/ip stack", "wake-ups (sock_def_readable, ttwu)", "scheduler/ctx switch/yield", "io_uring (kernel)",
     "epoll (kernel)", "syscall entry/exit", "memory (slab, skb alloc/free)", "copy", "other kernel",
     "runtime user space", "libc", "other user"])
def cat(dso, sym):
    if dso != "[kernel.kallsyms]":
        if "libc" in dso: return "libc"
        if dso == own or dso.startswith(own[:15]): return "runtime user space"
        return "other user"
    s = sym
    if re.search(r"unlock_irqrestore|try_to_wake_up|ttwu|wake_up|sock_def_readable|__wake", s): return "wake-ups (sock_def_readable, ttwu)"
    if re.search(r"sched|switch|yield|pick_next|enqueue_task|dequeue_task|update_curr|__schedule|idle|cpuidle", s): return "scheduler/ctx switch/yield"
    if re.search(r"^io_|_io_uring|io_uring|__io_|llist", s): return "io_uring (kernel)"
    if re.search(r"^ep_|epoll", s): return "epoll (kernel)"
    if re.search(r"syscall|entry_|do_syscall|fdget|fput|__x64_sys|syscall_exit", s): return "syscall entry/exit"
    if re.search(r"slab|kmem|kfree|alloc_skb|skb_release|skb_free|__alloc|page", s): return "memory (slab, skb alloc/free)"
    if re.search(r"copy|_iter|memcpy|memmove|csum", s): return "copy"
    if re.search(r"tcp|ip_|inet|skb|dev_|net|sk_|sock|napi|bbr|__ip|rcv|xmit|softirq|bh", s): return "tcp/ip stack"
    return "other kernel"
for line in out.splitlines():
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)", line)
    if not m: continue
    cats[cat(m.group(2), m.group(3).strip())] += float(m.group(1))
tot_us = ev / 1e3 / (rate * secs)
print("   perf: %.2f us per message sampled" % tot_us)
for k, v in cats.items():
    print("     %-38s %5.1f %%  %5.2f" % (k, v, v / 100 * tot_us))
