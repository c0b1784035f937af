#!/usr/bin/python3
"""Cross-check of the known-answer vectors in crypto_kat_test.cpp with an independent
implementation (the Python `cryptography` package).

The vectors were typed in from the documents they cite. This script reads them back out of the
C++ source, exactly as the test uses them, and recomputes every published output from the published
inputs, so a slip in a key, a nonce or a single ciphertext byte shows here as well as in the test.
It also checks the internal consistency of each ESP vector (AAD and packet layout, ESP trailer).

Usage: crypto_kat_crosscheck.py crypto_kat_test.cpp
Exit status: 0 all vectors agree, 1 a mismatch, 77 (meson's "skipped") without `cryptography`.
"""

import re
import sys

try:
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    print("SKIP: the Python cryptography package is not installed")
    sys.exit(77)

STRING = r'"(?:[^"\\]|\\.)*"'


def bytes_of(spec):
    """The notation of crypto_kat_test.cpp's bytes_of()."""
    if spec.startswith("ascii:"):
        return spec[6:].encode("ascii")
    out = bytearray()
    for token in spec.split():
        if "*" in token:
            byte, count = token.split("*")
            out += bytes.fromhex(byte) * int(count)
        else:
            out += bytes.fromhex(token)
    return bytes(out)


def literal_value(text, constants):
    """A C++ value: adjacent string literals (concatenated) or the name of a constant."""
    text = text.strip()
    parts = re.findall(STRING, text)
    if parts:
        return "".join(p[1:-1] for p in parts)
    if text in constants:
        return constants[text]
    return text  # an enumerator such as kSha256


def split_top(text, sep):
    """Split at sep characters that are outside braces and string literals."""
    items, depth, start, i, in_str = [], 0, 0, 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == sep and depth == 0:
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    return [s for s in items if s.strip()]


def strip_comments(src):
    out, i, in_str = [], 0, False
    while i < len(src):
        if in_str:
            out.append(src[i])
            if src[i] == "\\":
                out.append(src[i + 1])
                i += 1
            elif src[i] == '"':
                in_str = False
        elif src.startswith("//", i):
            i = src.index("\n", i) - 1
        elif src[i] == '"':
            in_str = True
            out.append(src[i])
        else:
            out.append(src[i])
        i += 1
    return "".join(out)


def array_entries(src, name, fields, constants, defaults=None):
    m = re.search(r"\b" + name + r"\[\]\s*=\s*\{", src)
    if not m:
        raise SystemExit(f"array {name} not found")
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    entries = []
    for raw in split_top(src[m.end() : i - 1], ","):
        body = raw.strip()
        assert body.startswith("{") and body.endswith("}"), body[:60]
        entry = dict(defaults or {})
        for pos, item in enumerate(split_top(body[1:-1], ",")):
            dm = re.match(r"\s*\.(\w+)\s*=(.*)", item, re.S)
            if dm:
                entry[dm.group(1)] = literal_value(dm.group(2), constants)
            else:
                entry[fields[pos]] = literal_value(item, constants)
        entries.append(entry)
    return entries


failures = 0
checked = 0


def expect(ok, what):
    global failures, checked
    checked += 1
    if not ok:
        failures += 1
        print("MISMATCH:", what)


def check_gcm_esp(v):
    key, spi, seq = bytes_of(v["key"]), bytes_of(v["spi"]), bytes_of(v["seq"])
    nonce, pt = bytes_of(v["nonce"]), bytes_of(v["plaintext"])
    aad, ctag, packet = bytes_of(v["aad"]), bytes_of(v["ctext_tag"]), bytes_of(v["packet"])
    name = v["name"]
    expect(len(key) in (16, 32) and len(nonce) == 12 and len(seq) in (4, 8), name + " shapes")
    seq_lo = seq[-4:]
    expect(aad == spi + seq, name + " aad = spi || seq (seq_hi || seq_lo with ESN)")
    expect(packet == spi + seq_lo + nonce[4:] + ctag, name + " packet = spi || seq_lo || iv || ct")
    expect(AESGCM(key).encrypt(nonce, pt, aad) == ctag, name + " AES-GCM(key, nonce, pt, aad)")
    expect(AESGCM(key).decrypt(nonce, ctag, aad) == pt, name + " AES-GCM decrypt")


def check_gcm_spec(v):
    key, iv, pt = bytes_of(v["key"]), bytes_of(v["iv"]), bytes_of(v["plaintext"])
    aad, ct, tag = bytes_of(v["aad"]), bytes_of(v["ciphertext"]), bytes_of(v["tag"])
    expect(len(iv) == 12 and len(tag) == 16, v["name"] + " shapes")
    expect(AESGCM(key).encrypt(iv, pt, aad or None) == ct + tag, v["name"] + " AES-GCM")


def check_cbc(v):
    key, iv, pt, ct = (bytes_of(v[k]) for k in ("key", "iv", "plaintext", "ciphertext"))
    name = v["name"]
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    expect(enc.update(pt) + enc.finalize() == ct, name + " AES-CBC encrypt")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    expect(dec.update(ct) + dec.finalize() == pt, name + " AES-CBC decrypt")
    if "esp" in name:
        # RFC 4303 2.4-2.6: padding 1, 2, 3, ..., pad length, next header (1 ICMP, 4 IPv4).
        pad = pt[-2]
        expect(pt[-2 - pad : -2] == bytes(range(1, pad + 1)), name + " ESP padding")
        expect(pt[-1] in (1, 4), name + " next header")
        expect(len(bytes_of(v["spi"])) == 4 and len(bytes_of(v["seq"])) == 4, name + " header")


HASHES = {
    "kSha1": hashes.SHA1,
    "kSha256": hashes.SHA256,
    "kSha384": hashes.SHA384,
    "kSha512": hashes.SHA512,
}


def check_hmac(v):
    key, data, mac = bytes_of(v["key"]), bytes_of(v["data"]), bytes_of(v["mac"])
    h = hmac.HMAC(key, HASHES[v["integrity"]]())
    h.update(data)
    full = h.finalize()
    expect(len(mac) in (16, len(full)), v["name"] + " published length")
    expect(full[: len(mac)] == mac, v["name"] + " HMAC")


def main():
    src = strip_comments(open(sys.argv[1], encoding="utf-8").read())
    constants = {
        m.group(1): literal_value(m.group(2), {})
        for m in re.finditer(
            r"constexpr std::string_view (\w+)\s*=\s*((?:\s*" + STRING + r")+)\s*;", src
        )
    }
    counts = {}
    for name, fields, check, defaults in (
        ("kGcmEspVectors", [], check_gcm_esp, None),
        ("kGcmSpecVectors", [], check_gcm_spec, None),
        ("kCbcVectors", [], check_cbc, {"spi": "00001234", "seq": "00000001"}),
        (
            "kHmacVectors",
            ["name", "source", "integrity", "key", "data", "mac"],
            check_hmac,
            None,
        ),
    ):
        entries = array_entries(src, name, fields, constants, defaults)
        for v in entries:
            expect(bool(v.get("source")), v.get("name", "?") + " cites its source")
            check(v)
        counts[name] = len(entries)
    print(", ".join(f"{k}: {n}" for k, n in counts.items()), f"({checked} checks)")
    if failures:
        print(f"FAILED: {failures} mismatches")
        return 1
    print("all vectors agree with the cryptography package")
    return 0


if __name__ == "__main__":
    sys.exit(main())
