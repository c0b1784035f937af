"""A small VICI client, written apart from espgw's C++ one from strongSwan's README
(src/libcharon/plugins/vici/README.md), so that the tests check charon's state through a second
implementation of the format: what espgw-ike loaded, what charon negotiated."""

import socket
import struct

CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6


def encode(msg):
    out = bytearray()
    for key, value in msg.items():
        name = key.encode()
        if isinstance(value, dict):
            out += bytes([SECTION_START, len(name)]) + name + encode(value) + bytes([SECTION_END])
        elif isinstance(value, list):
            out += bytes([LIST_START, len(name)]) + name
            for item in value:
                item = str(item).encode()
                out += bytes([LIST_ITEM]) + struct.pack("!H", len(item)) + item
            out += bytes([LIST_END])
        else:
            v = str(value).encode()
            out += bytes([KEY_VALUE, len(name)]) + name + struct.pack("!H", len(v)) + v
    return bytes(out)


def decode(data):
    root = {}
    stack = [root]
    current_list = None
    i = 0
    while i < len(data):
        t = data[i]
        i += 1
        if t in (SECTION_START, KEY_VALUE, LIST_START):
            n = data[i]
            name = data[i + 1:i + 1 + n].decode()
            i += 1 + n
        if t == SECTION_START:
            sub = {}
            stack[-1][name] = sub
            stack.append(sub)
        elif t == SECTION_END:
            stack.pop()
        elif t in (KEY_VALUE, LIST_ITEM):
            (n,) = struct.unpack("!H", data[i:i + 2])
            value = data[i + 2:i + 2 + n].decode(errors="replace")
            i += 2 + n
            if t == KEY_VALUE:
                stack[-1][name] = value
            else:
                current_list.append(value)
        elif t == LIST_START:
            current_list = []
            stack[-1][name] = current_list
        elif t == LIST_END:
            current_list = None
        else:
            raise ValueError("unknown element type %d" % t)
    return root


class Vici:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def _send(self, ptype, name=None, msg=None):
        body = bytes([ptype])
        if name is not None:
            body += bytes([len(name)]) + name.encode()
        if msg is not None:
            body += encode(msg)
        self.sock.sendall(struct.pack("!I", len(body)) + body)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("charon closed the VICI connection")
            buf += chunk
        return buf

    def _recv(self):
        (n,) = struct.unpack("!I", self._recv_exact(4))
        body = self._recv_exact(n)
        ptype = body[0]
        name = None
        rest = body[1:]
        if ptype in (CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT):
            name = rest[1:1 + rest[0]].decode()
            rest = rest[1 + rest[0]:]
        return ptype, name, decode(rest) if ptype in (CMD_RESPONSE, EVENT) else None

    def _register(self, ptype, event):
        self._send(ptype, event)
        while True:
            t, _, _ = self._recv()
            if t == EVENT_CONFIRM:
                return
            if t == EVENT_UNKNOWN:
                raise KeyError("unknown event " + event)

    def request(self, cmd, msg=None, stream=None):
        """The response; with `stream`, the list of `stream` events that came before it."""
        events = []
        if stream:
            self._register(EVENT_REGISTER, stream)
        self._send(CMD_REQUEST, cmd, msg or {})
        while True:
            t, name, m = self._recv()
            if t == EVENT and name == stream:
                events.append(m)
            elif t == CMD_RESPONSE:
                break
            elif t == CMD_UNKNOWN:
                raise KeyError("unknown command " + cmd)
        if stream:
            self._register(EVENT_UNREGISTER, stream)
            return events
        return m

    # Helpers over charon's answers.
    def ike_sas(self, conn=None):
        """{conn name: [IKE_SA dict, ...]}"""
        out = {}
        for ev in self.request("list-sas", {"noblock": "yes"}, stream="list-sa"):
            for name, sa in ev.items():
                if conn is None or name == conn:
                    out.setdefault(name, []).append(sa)
        return out

    def conns(self):
        out = {}
        for ev in self.request("list-conns", {}, stream="list-conn"):
            out.update(ev)
        return out

    def shared_ids(self):
        return self.request("get-shared").get("keys", [])
