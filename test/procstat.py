"""test/procstat.py - what the Python test drivers read of a process in /proc
(test/abuse/abuse.py, test/soak/soak.py): its resident set and its open
descriptors."""
import os


def rss_kb(pid):
    """VmRSS of pid in KiB (0 when /proc has no such line)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    """How many descriptors pid has open."""
    return len(os.listdir("/proc/%d/fd" % pid))
