"""A strict reader of Prometheus's text exposition format 0.0.4, for the exporter's tests.

parse(text) returns {(name, ((label, value), ...)): float} and raises FormatError on anything the
format does not allow: a sample before its family's HELP and TYPE, a family split in two, a TYPE
given twice, a counter not named *_total, bad metric or label names, a bad escape in a label
value, a value that is not a number, a series given twice.
"""

import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class FormatError(Exception):
    pass


def _labels(s, pos, lineno):
    """Parses {a="x",b="y"} starting at s[pos] == '{'; returns (labels tuple, next pos)."""
    out = []
    pos += 1
    while True:
        if s[pos] == "}":
            return tuple(out), pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise FormatError(f"line {lineno}: bad label name at column {pos}")
        name = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise FormatError(f"line {lineno}: expected =\" after label {name}")
        pos += 2
        value = []
        while True:
            if pos >= len(s):
                raise FormatError(f"line {lineno}: label value not closed")
            c = s[pos]
            if c == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError(f"line {lineno}: bad escape \\{nxt} in a label value")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise FormatError(f"line {lineno}: raw newline in a label value")
            else:
                value.append(c)
                pos += 1
        if name in dict(out):
            raise FormatError(f"line {lineno}: label {name} twice")
        out.append((name, "".join(value)))
        if s[pos] == ",":
            pos += 1
        elif s[pos] != "}":
            raise FormatError(f"line {lineno}: expected , or }} after label {name}")


def parse(text):
    if not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    helps, types, done = {}, {}, set()
    current = None
    series = {}
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            if not NAME.fullmatch(name):
                raise FormatError(f"line {lineno}: bad metric name {name!r}")
            if name != current:
                if name in done or name in helps or name in types:
                    raise FormatError(f"line {lineno}: family {name} split or repeated")
                if current is not None:
                    done.add(current)
                current = name
            table = helps if kind == "HELP" else types
            if name in table:
                raise FormatError(f"line {lineno}: {kind} of {name} given twice")
            if kind == "TYPE":
                if arg not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise FormatError(f"line {lineno}: unknown type {arg!r}")
                if arg == "counter" and not name.endswith("_total"):
                    raise FormatError(f"line {lineno}: counter {name} is not named *_total")
            table[name] = arg
            continue
        if line.startswith("#") or not line:
            continue
        m = NAME.match(line)
        if not m:
            raise FormatError(f"line {lineno}: bad sample {line!r}")
        name = m.group(0)
        pos = m.end()
        labels = ()
        if pos < len(line) and line[pos] == "{":
            labels, pos = _labels(line, pos, lineno)
        if line[pos:pos + 1] != " ":
            raise FormatError(f"line {lineno}: expected a space before the value")
        value_text = line[pos + 1:].split(" ")[0]
        try:
            value = float(value_text)
        except ValueError:
            raise FormatError(f"line {lineno}: value {value_text!r} is not a number") from None
        if name != current or name not in helps or name not in types:
            raise FormatError(f"line {lineno}: sample of {name} outside its family's HELP/TYPE")
        key = (name, tuple(sorted(labels)))
        if key in series:
            raise FormatError(f"line {lineno}: series {key} given twice")
        series[key] = value
    return series


def value(series, name, **labels):
    """The value of one series, or None."""
    return series.get((name, tuple(sorted(labels.items()))))


def family(series, name):
    """{labels dict as a sorted tuple: value} of one family."""
    return {k[1]: v for k, v in series.items() if k[0] == name}
