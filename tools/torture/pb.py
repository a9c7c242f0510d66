"""Hand-rolled protobuf encoding/decoding and a blocking Badges wire client (standard library only).

Encoders build the messages of proto/badges/v1 from keyword arguments (a field left as None is not
written; 0 and "" are written, so tests can send explicit defaults); `parse` decodes any message into
{field number: [values]}; `Conn` speaks the wire protocol of PROTOCOL.md over a Unix socket
(preface, 4-byte big-endian length + envelope frames). Used by fuzz.py and crash.py.
"""
import select
import socket
import struct
import time

PREFACE = b"BADGES\x00\x01"
M = "badges.v1.Badges/"          # method name prefix
METHODS = ["PutBadge", "GetBadge", "ListBadges", "DeactivateBadge", "Issue", "Revoke", "List",
           "ExportAwards", "Evaluate", "Health"]


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def tag(f, wt):
    return varint((f << 3) | wt)


def fv(f, v):  # varint field (always written, even 0, if not None)
    if v is None:
        return b""
    if isinstance(v, bool):
        v = int(v)
    return tag(f, 0) + varint(v)


def fb(f, b):  # bytes/string field
    if b is None:
        return b""
    if isinstance(b, str):
        b = b.encode()
    return tag(f, 2) + varint(len(b)) + b


def fd(f, x):  # double field
    if x is None:
        return b""
    return tag(f, 1) + struct.pack("<d", x)


def fmap(f, d):
    out = b""
    for k, v in (d or {}).items():
        out += fb(f, fb(1, k) + fb(2, v))
    return out


# ---- messages ----
def badge_def(id, name="n", description=None, icon=None, rank=None, group=None, status=None,
              valid_from=None, valid_until=None, repeatable=None, max_per_customer=None,
              global_cap=None, expires_after=None, expires_at=None, labels=None, criteria=None,
              created=None, updated=None):
    return (fb(1, id) + fb(2, name) + fb(3, description) + fb(4, icon) + fv(5, rank) + fb(6, group) +
            fv(7, status) + fv(8, valid_from) + fv(9, valid_until) + fv(10, repeatable) +
            fv(11, max_per_customer) + fv(12, global_cap) + fv(13, expires_after) + fv(14, expires_at) +
            fmap(15, labels) + fv(16, created) + fv(17, updated) + fb(18, criteria))


def condition(attribute=None, op=None, values=(), number=None):
    return fb(1, attribute) + fv(2, op) + b"".join(fb(3, v) for v in values) + fd(4, number)


def criterion(key="k", event_type="purchase", conditions=(), aggregate=None, attribute=None, target=1.0,
              state_value=None, window=None, window_days=None, streak_unit=None, tod=None, dow=(), unit=None):
    return (fb(1, key) + fb(2, event_type) + b"".join(fb(3, c) for c in conditions) + fv(4, aggregate) +
            fb(5, attribute) + fd(6, target) + fb(7, state_value) + fv(8, window) + fv(9, window_days) +
            fv(10, streak_unit) + fb(11, tod) + b"".join(fv(12, d) for d in dow) + fb(13, unit))


def criteria(crits, combine=None, prereqs=(), tz=None):
    return fv(1, combine) + b"".join(fb(2, c) for c in crits) + b"".join(fb(3, p) for p in prereqs) + fb(4, tz)


def put_badge(bdef, replace=None):
    return fb(1, bdef) + fv(2, replace)


def issue(customer, badge, request_id, source=None, evidence=None, fields=None):
    return fb(1, customer) + fb(2, badge) + fb(3, request_id) + fv(4, source) + fb(5, evidence) + fmap(6, fields)


def revoke(customer, award_id=None, badge_id=None, reason="r", actor=None):
    return fb(1, customer) + fv(2, award_id) + fb(3, badge_id) + fb(4, reason) + fb(5, actor)


def list_req(customer, per_badge=None):
    return fb(1, customer) + fv(2, per_badge)


def export_req(after=None, chunk=None):
    return fv(1, after) + fv(2, chunk)


def evaluate(event_id, customer, type_, occurred=None, tz=None, amount=None, attrs=None, dry=None):
    return (fb(1, event_id) + fb(2, customer) + fb(3, type_) + fv(4, occurred) + fb(5, tz) + fd(6, amount) +
            fmap(7, attrs) + fv(8, dry))


def request_frame(call_id, method=None, payload=None, kind=None, timeout=None, metadata=None, extra=b"",
                  full_method=None):
    m = full_method if full_method is not None else (M + method if method else None)
    md = b""
    for k, v in (metadata or []):
        md += fb(5, fb(1, k) + fb(2, v))
    env = fv(1, call_id) + fv(2, kind) + fb(3, m) + fv(4, timeout) + md + fb(6, payload) + extra
    return env


def frame(env):
    return struct.pack(">I", len(env)) + env


# ---- decoding ----
class Malformed(Exception):
    pass


def read_varint(b, i):
    v = 0
    s = 0
    while True:
        if i >= len(b) or s >= 64:
            raise Malformed("varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        if c < 0x80:
            return v & ((1 << 64) - 1), i
        s += 7


def parse(b):
    """-> dict field -> list of values (int for varint/fixed, bytes for len)."""
    out = {}
    i = 0
    while i < len(b):
        t, i = read_varint(b, i)
        f, wt = t >> 3, t & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v = struct.unpack("<Q", b[i:i + 8])[0]
            i += 8
        elif wt == 5:
            v = struct.unpack("<I", b[i:i + 4])[0]
            i += 4
        elif wt == 2:
            n, i = read_varint(b, i)
            if i + n > len(b):
                raise Malformed("len")
            v = b[i:i + n]
            i += n
        else:
            raise Malformed("wt %d" % wt)
        out.setdefault(f, []).append(v)
    if i != len(b):
        raise Malformed("trail")
    return out


def g(d, f, default=0):
    v = d.get(f)
    return v[-1] if v else default


class Resp:
    __slots__ = ("call_id", "end", "status", "message", "payload", "reason", "raw")

    def __init__(self, raw):
        self.raw = raw
        d = parse(raw)
        self.call_id = g(d, 1)
        self.end = bool(g(d, 2))
        self.status = g(d, 3)
        self.message = g(d, 4, b"").decode("utf-8", "replace")
        self.payload = g(d, 5, b"")
        self.reason = g(d, 6, b"").decode("utf-8", "replace")

    def __repr__(self):
        return "Resp(id=%d end=%s st=%d reason=%r msg=%r plen=%d)" % (
            self.call_id, self.end, self.status, self.reason, self.message[:160], len(self.payload))


class Conn:
    def __init__(self, path, preface=PREFACE, wait_preface=True, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False
        self.got_preface = None
        if preface is not None:
            self.s.sendall(preface)
        if wait_preface:
            self.read_preface(timeout)

    def send(self, b):
        try:
            self.s.sendall(b)
            return True
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            return False

    def _fill(self, deadline):
        rem = deadline - time.monotonic()
        if rem <= 0:
            return False
        r, _, _ = select.select([self.s], [], [], rem)
        if not r:
            return False
        try:
            d = self.s.recv(1 << 20)
        except (ConnectionResetError, OSError):
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def read_preface(self, timeout=5.0):
        dl = time.monotonic() + timeout
        while len(self.buf) - self.pos < 8:
            if not self._fill(dl):
                return None
        self.got_preface = bytes(self.buf[self.pos:self.pos + 8])
        self.pos += 8
        return self.got_preface

    def read_frame(self, timeout=5.0):
        dl = time.monotonic() + timeout
        while True:
            avail = len(self.buf) - self.pos
            if avail >= 4:
                n = struct.unpack_from(">I", self.buf, self.pos)[0]
                if avail >= 4 + n:
                    raw = bytes(self.buf[self.pos + 4:self.pos + 4 + n])
                    self.pos += 4 + n
                    if self.pos > (1 << 20):
                        del self.buf[:self.pos]
                        self.pos = 0
                    return Resp(raw)
            if self.closed or not self._fill(dl):
                return None

    def read_until(self, pred, timeout=5.0):
        """Read frames until pred(frames) true, close, or timeout. Returns frames."""
        frames = []
        dl = time.monotonic() + timeout
        while not pred(frames):
            f = self.read_frame(max(0.0, dl - time.monotonic()))
            if f is None:
                break
            frames.append(f)
        return frames

    def wait_closed(self, timeout=3.0):
        dl = time.monotonic() + timeout
        while not self.closed:
            if not self._fill(dl) and not self.closed:
                if time.monotonic() >= dl:
                    return False
        return True

    def call(self, cid, method, payload=b"", timeout_s=5.0, **kw):
        self.send(frame(request_frame(cid, method, payload, **kw)))
        fr = self.read_until(lambda fs: any(f.end and f.call_id in (cid, 0) for f in fs), timeout_s)
        for f in fr:
            if f.end and f.call_id in (cid, 0):
                return f, fr
        return None, fr

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
