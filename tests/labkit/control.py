"""espgw's control socket as the tests speak it: one JSON request per line, one answer per line.

The same protocol serves espgw (`status`, `sas`, `apply`, ...) and espgw-ike (`status`, ...);
docs/control-protocol.md describes it. Errors never quote the request: it may hold keys.
"""

import json
import secrets
import socket

from labkit.proc import LabError


class Control:
    def __init__(self, path):
        self.path = path

    def raw(self, line, timeout=15):
        """Sends one line as it is (str or bytes, with its newline); what comes back up to and
        with the answer's newline, as text: less, or "", when the server closes first."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.path)
            s.sendall(line if isinstance(line, bytes) else line.encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return buf.decode(errors="replace")

    def request(self, req, timeout=15):
        """One request (a dict); its answer, or LabError with the server's error."""
        text = self.raw(json.dumps(req) + "\n", timeout)
        if not text.endswith("\n"):
            raise LabError(f"{self.path}: connection closed before the answer to "
                           f"{req.get('cmd')}")
        resp = json.loads(text)
        if not resp.get("ok"):
            raise LabError(f"{self.path}: {req.get('cmd')}: {resp.get('error')}")
        return resp

    def __call__(self, cmd, **kw):
        return self.request({"cmd": cmd, **kw})

    def apply(self, *ops):
        return self.request({"cmd": "apply", "ops": list(ops)})

    def sas(self, tunnel=None):
        """The SAs (of one tunnel, or all), keyed by (direction, spi as an int)."""
        return {(s["direction"], int(s["spi"], 16)): s for s in self("sas")["sas"]
                if tunnel is None or s["tunnel"] == tunnel}

    def counters(self):
        return self("counters")

    def answers(self):
        """`status` or None: for waits on a daemon coming up."""
        try:
            return self("status")
        except (OSError, LabError, ValueError):
            return None


def tunnel_if_id(name):
    """config::tunnel_if_id() (config/config.cpp): 32-bit FNV-1a of the name, 0 and 0xffffffff
    moved off (strongSwan reserves them)."""
    h = 2166136261
    for c in name.encode():
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return 1 if h == 0 else 0xFFFFFFFE if h == 0xFFFFFFFF else h


def new_gcm_key():
    """A fresh AES-128-GCM key with its salt: 20 bytes, as IKE derives them (RFC 4106 8.1)."""
    return secrets.token_bytes(20)


def send_until_closed(sock, limit=1 << 30):
    """A hostile client's endless request: 1 MiB chunks of "x" on a connected socket until
    `limit` bytes or the server closes it (reset or broken pipe); the bytes sent."""
    chunk = b"x" * (1 << 20)
    sent = 0
    try:
        while sent < limit:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent
