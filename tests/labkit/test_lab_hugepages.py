"""The huge pages a lab takes (Lab.huge_dir, labkit/hugepages.py) are given back, however it ends.

1. A lab asks for them: the kernel's pool has Lab.HUGE_PAGES more 2 MiB pages, a hugetlbfs is
   mounted in the lab's work folder, and a DPDK-sized file there takes pages from the pool.
   Asking again gives the same mount. Lab.down() unmounts it and the pool is as before.
2. A lab killed outright (SIGKILL to the process that made it, after huge_dir()): its mount and
   its pages stay until the next lab's sweep (sweep_abandoned), which gives both back.
3. Two users at once (a lab beside a bench run's Hugepages): each takes its own pages and gives
   back only those, in either order.

Runs as root (nr_hugepages, mount); no namespaces, no DPDK.
"""

import mmap
import os
import signal
import subprocess

from labkit import hugepages
from labkit.lab import STATE_DIR, Lab, sweep_abandoned
from labkit.proc import PYTHON, LabError, begin_test, check, exit_with, verdict


def total():
    with open(hugepages.NR_PAGES) as f:
        return int(f.read())


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path and line.split()[2] == "hugetlbfs" for line in f)


def free_pages():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    raise LookupError("no HugePages_Free in /proc/meminfo")


CHILD = """
import os, sys
sys.path.insert(0, %r)
from labkit.lab import Lab
lab = Lab(prefix="hp")
print(lab.huge_dir(), lab.workdir, flush=True)
sys.stdin.read()
"""


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (nr_hugepages, mount)"
    if not os.path.exists(hugepages.NR_PAGES):
        return "no 2 MiB huge pages in this kernel"
    return None


def main():
    code = begin_test(0, "usage: test_lab_hugepages.py", skip_reason)
    if code is not None:
        return code
    failures = []
    before = total()

    print("1. a lab's huge pages, used, then given back by Lab.down()")
    lab = Lab(prefix="hp", keep_workdir=False)
    try:
        d = lab.huge_dir()
        check(total() == before + Lab.HUGE_PAGES and mounted(d) and d.startswith(lab.workdir),
              f"{Lab.HUGE_PAGES} pages added ({before} -> {total()}), hugetlbfs at {d}", failures)
        check(lab.huge_dir() == d and total() == before + Lab.HUGE_PAGES,
              "asked again: the same mount, no more pages", failures)
        free0 = free_pages()
        fd = os.open(os.path.join(d, "map"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, 4 << 20)
            m = mmap.mmap(fd, 4 << 20)
            m[0] = 1
            m[(2 << 20) + 1] = 1
            check(free_pages() == free0 - 2, f"a 4 MiB mapping there takes 2 pages "
                  f"({free0} -> {free_pages()} free)", failures)
            m.close()
        finally:
            os.close(fd)
    finally:
        errors = lab.down()
    check(not errors and total() == before and not mounted(d) and not os.path.exists(lab.workdir),
          f"after Lab.down(): pool back to {total()} (was {before}), unmounted, work folder gone "
          f"({errors})", failures)

    print("2. a lab killed outright: the next lab's sweep gives its pages back")
    os.makedirs(STATE_DIR, exist_ok=True)  # where a lab leaves its note (up_namespaces makes it)
    child = subprocess.Popen([PYTHON, "-c", CHILD % os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().split()
        if len(line) != 2:
            raise LabError(f"the child lab said {line!r}")
        d, workdir = line
        check(total() == before + Lab.HUGE_PAGES and mounted(d),
              f"the child lab took {Lab.HUGE_PAGES} pages and mounted {d}", failures)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    check(total() == before + Lab.HUGE_PAGES and mounted(d),
          "killed outright, it left its pages and mount behind", failures)
    sweep_abandoned(print)
    check(total() == before and not mounted(d) and not os.path.exists(workdir),
          f"after the sweep: pool back to {total()} (was {before}), unmounted, work folder gone",
          failures)

    print("3. a lab beside another user of huge pages: each gives back its own")
    with Lab(prefix="hp") as a:
        a.huge_dir()
        with hugepages.Hugepages(64) as other:
            check(total() == before + Lab.HUGE_PAGES + 64 and mounted(other.dir),
                  f"both: {total()} pages", failures)
            a.down()
            check(total() == before + 64 and mounted(other.dir),
                  f"the lab gone first: the other's 64 pages stay ({total()})", failures)
    check(total() == before, f"both gone: pool back to {total()} (was {before})", failures)
    return verdict({"pages_per_lab": Lab.HUGE_PAGES}, failures)


if __name__ == "__main__":
    exit_with(main)
