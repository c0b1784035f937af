"""2 MiB pages for DPDK processes, on a private hugetlbfs mount, for as long as a lab or a bench run
needs them.

espgw-up starts espgw on huge pages (its EAL options are `-l ... --file-prefix espgw`, no
`--no-huge`), so the labs that run espgw-up give it huge pages too (labkit.lab.Lab.huge_dir):
without them espgw's start in a lab is about 0.14 s slower than where it is deployed, all of it
page faults while its mbuf pools are filled (docs/sa-state.md, "Restart outage").

Pages are added to the kernel's pool and taken away again by count (add(), remove()), not set to
a total, so that two users at once (a lab and a bench run) do not take each other's.
"""

import os
import subprocess
import tempfile

NR_PAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"


def _total():
    with open(NR_PAGES) as f:
        return int(f.read())


def _set_total(pages):
    with open(NR_PAGES, "w") as f:
        f.write(str(max(0, pages)))


def add(pages):
    """Adds `pages` to the pool; how many it got (the kernel gives fewer when memory is
    fragmented)."""
    before = _total()
    _set_total(before + pages)
    return max(0, _total() - before)


def remove(pages):
    """Takes `pages` out of the pool again (those still in use stay until they are freed)."""
    _set_total(_total() - pages)


def mount(path):
    subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", path], check=True)


def umount(path):
    """Unmounts `path` if it is a mount; never raises (teardown)."""
    subprocess.run(["umount", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)


class Hugepages:
    """`pages` more 2 MiB pages and a private hugetlbfs mount (self.dir), both given back on exit.
    RuntimeError when fewer than 90% of them could be had."""

    def __init__(self, pages, parent=None):
        self.pages = pages
        self.parent = parent
        self.added = 0
        self.dir = None

    def open(self):
        self.added = got = add(self.pages)
        if got < self.pages * 0.9:
            self.close()
            raise RuntimeError(f"only {got} of {self.pages} hugepages could be reserved "
                               f"({NR_PAGES})")
        self.dir = tempfile.mkdtemp(prefix="espgw-huge-", dir=self.parent)
        try:
            mount(self.dir)
        except (OSError, subprocess.CalledProcessError) as e:
            self.close()
            raise RuntimeError(f"cannot mount hugetlbfs: {e}") from None
        return self

    def close(self):
        """Unmounts and gives the pages back; safe to call twice."""
        if self.dir:
            umount(self.dir)
            try:
                os.rmdir(self.dir)
            except OSError:
                pass
            self.dir = None
        if self.added:
            remove(self.added)
            self.added = 0

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False
