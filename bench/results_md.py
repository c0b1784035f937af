"""bench/RESULTS.md holds two reports, each written by its own script: the ESP engine's
micro-benchmarks (bench/esp_micro) and the whole dataplane against its peers (bench/run). Each
script replaces its own section, between marker comments, and leaves the other as it is."""

import os


def _markers(name, writer=None):
    begin = "<!-- section %s: written by %s, replaced whole on its next run -->"
    return begin % (name, writer or "bench/" + name), "<!-- end of section %s -->" % name


def write_section(path, name, text, writer=None):
    """Replaces section `name` of the file (written by `writer`, default bench/NAME) with text."""
    begin, end = _markers(name, writer)
    block = begin + "\n\n" + text.strip("\n") + "\n\n" + end + "\n"
    old = open(path).read() if os.path.exists(path) else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    elif "<!-- section " in old:
        new = old.rstrip("\n") + "\n\n" + block
    else:
        new = block  # no sections yet: a report written before the file had them
    with open(path, "w") as f:
        f.write(new)
