#!/usr/bin/env python3
"""Black-box robustness fuzzer for badged's wire protocol (Unix socket only, no TCP).

Starts a fresh badged (short preface/frame timeouts) in a temporary folder and throws at it, family
by family: valid calls, bad prefaces, framing edge cases (0, max, max+1, huge, truncated, slow,
split), malformed envelopes (wire types, varints, lengths, unknown fields, metadata, deadlines),
call-id reuse and cancels, many calls in flight and unread replies, malformed payloads for every
method (strings, maps, numbers, criteria, time zones), Unicode equivalence (ids and keys that differ
only by NFC/NFD must stay distinct), a second server with tiny limits and an auth token, a
SIGTERM-restart persistence check, then random mutations and random rule/event programs until the
time is up, and a final restart.

After every case it checks that the server is alive, still answers Health on a fresh connection
and still lists a known award (after a death it starts a fresh server, named <name>r, and goes on). An anomaly (a failure) is any of: the server dies, hangs or stops
answering; a connection error, status or reply that PROTOCOL.md does not allow for the input (in
particular UNKNOWN, INTERNAL or DATA_LOSS for garbage input); a missing reply or a connection left
open after a connection error; awards lost across a restart; canonically-equivalent strings merged;
a stop that takes over 15 s or exits non-zero; an exception in the fuzzer itself (FUZZER_ERROR).

Output in the work folder: log.txt (every case), anomalies.jsonl (kind, case, detail and the bytes
sent, hex, to reproduce), summary.json, <server>.stderr. Exit status 1 if any anomaly, else 0.

The fixed families take about 30 s; --seconds is the whole run's budget (the payload family is cut
short past 60% of it, random cases fill what remains but the last ~10 s). Not part of tools/test or CI.
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from pb import *  # noqa: E402,F401,F403  (the encoders are used throughout)

# Set by main().
RUN = None             # common.Run: the work folder and the servers started
BIN = None             # badged binary
T0 = time.monotonic()
BUDGET = 120.0         # seconds of total wall time
SEED = 0
rng = random.Random(0)
LOG = None
ANOM = None
AUTH_MD = None         # metadata the health check sends (set while the limits server, which has a token, runs)

counts = {}
anomalies = []
status_hist = {}


def log(*a):
    s = " ".join(str(x) for x in a)
    LOG.write("%.1f %s\n" % (time.monotonic() - T0, s))
    LOG.flush()


def anomaly(kind, case, detail, repro=None):
    rec = {"t": round(time.monotonic() - T0, 1), "kind": kind, "case": case, "detail": detail,
           "repro": repro.hex() if isinstance(repro, (bytes, bytearray)) else repro,
           "server": SRV.name if SRV else None}
    anomalies.append(rec)
    ANOM.write(json.dumps(rec) + "\n")
    ANOM.flush()
    log("ANOMALY", json.dumps(rec)[:2000])
    print("ANOMALY", kind, case, str(detail)[:300], flush=True)


# ---------------------------------------------------------------- server management
class Server:
    def __init__(self, extra=(), name="main"):
        self.name = name
        self.data = RUN.path("data-" + name)
        self.sock = RUN.path(name + ".sock")
        self.extra = list(extra)
        self.errpath = RUN.path(name + ".stderr")
        self.p = None
        self.start(fresh=True)

    def start(self, fresh=True):
        if fresh:
            shutil.rmtree(self.data, ignore_errors=True)
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        args = [BIN, "--data-dir", self.data, "--socket", self.sock, "--no-tcp", "--event-loop-threads", "1",
                "--log-level", "warning"] + self.extra
        log("start server", self.name, " ".join(args))
        self.p = RUN.popen(args, self.errpath)
        for _ in range(400):
            if os.path.exists(self.sock):
                try:
                    Conn(self.sock, timeout=2).close()
                    return
                except OSError:
                    pass
            if self.p.poll() is not None:
                raise RuntimeError("server %s died at start rc=%s; see %s" % (self.name, self.p.returncode, self.errpath))
            time.sleep(0.05)
        raise RuntimeError("server %s did not come up in 20 s; see %s" % (self.name, self.errpath))

    def alive(self):
        return self.p.poll() is None

    def stderr_tail(self, n=4000):
        try:
            with open(self.errpath, "rb") as f:
                d = f.read()
            return d[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """Stop with sig (SIGTERM: graceful; a stop taking over 15 s is an anomaly). Returns the exit status."""
        if self.p.poll() is None:
            if sig == signal.SIGKILL:
                return RUN.kill(self.p)
            RUN.kill(self.p, sig)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                anomaly("SHUTDOWN_HANG", "stop", "server did not exit 15s after %s" % signal.Signals(sig).name)
                RUN.kill(self.p)
        RUN.forget(self.p)
        return self.p.returncode


SRV = None
KNOWN = {}


def setup_known(srv):
    c = Conn(srv.sock)
    r, _ = c.call(1, "PutBadge", put_badge(badge_def("fz-known", name="Known", repeatable=True)))
    assert r and r.status == 0, r
    r, _ = c.call(2, "Issue", issue("KNOWN-cust-zz9", "fz-known", "KNOWN-req-1", evidence="known"))
    assert r and r.status == 0, r
    aid = g(parse(g(parse(r.payload), 1)), 1)
    # badges used by templates
    crit = criteria([criterion(key="buys", event_type="purchase", target=3.0),
                     criterion(key="spend", event_type="purchase", aggregate=1, target=100.0),
                     criterion(key="night", event_type="visit", tod=fv(1, 1320) + fv(2, 300), dow=(1, 7))],
                    combine=1, tz="Europe/Paris")
    c.call(3, "PutBadge", put_badge(badge_def("fz-b1", name="B1", repeatable=True, criteria=crit)))
    c.call(4, "PutBadge", put_badge(badge_def("fz-b2", name="B2", labels={"a": "b"})))
    r, _ = c.call(5, "Health", b"")
    h = parse(r.payload)
    c.close()
    KNOWN.clear()
    KNOWN.update(award_id=aid, awards=g(h, 6), badges=g(h, 5))
    log("known", KNOWN)


def list_award_ids(c, cid, customer):
    r, _ = c.call(cid, "List", list_req(customer, 1000))
    if not r or r.status != 0:
        return None, r
    ids = []
    for e in parse(r.payload).get(2, []):
        for a in parse(e).get(3, []):
            ids.append(g(parse(a), 1))
    return ids, r


def connect_checked(case, repro, restart):
    """A fresh connection to a live server, or None after reporting why not (restarting a dead one if asked)."""
    if not SRV.alive():
        anomaly("SERVER_DEATH", case, {"rc": SRV.p.returncode, "stderr": SRV.stderr_tail()}, repro)
        if restart:
            restart_server()
        return None
    try:
        return Conn(SRV.sock, timeout=5)
    except OSError as e:
        anomaly("CONNECT_FAIL", case, repr(e), repro)
        return None


def health_check(case, repro=None):
    """Server alive, answers Health on a fresh connection, known award still listed."""
    if AUTH_MD is not None:
        return health_check_auth(case, repro)
    c = connect_checked(case, repro, restart=True)
    if c is None:
        return False
    try:
        if c.got_preface != PREFACE:
            anomaly("HANG_OR_BAD_PREFACE", case, "fresh conn preface=%r" % c.got_preface, repro)
            return False
        r, _ = c.call(1, "Health", b"", timeout_s=5)
        if r is None or r.status != 0:
            if not SRV.alive():
                anomaly("SERVER_DEATH", case, {"rc": SRV.p.returncode, "stderr": SRV.stderr_tail()}, repro)
                restart_server()
            else:
                anomaly("HEALTH_FAIL", case, repr(r), repro)
            return False
        h = parse(r.payload)
        if g(h, 6) < KNOWN["awards"]:
            anomaly("DATA_LOSS", case, "award count dropped %d -> %d" % (KNOWN["awards"], g(h, 6)), repro)
        KNOWN["awards"] = max(KNOWN["awards"], g(h, 6))
        ids, r = list_award_ids(c, 2, "KNOWN-cust-zz9")
        if ids is None or KNOWN["award_id"] not in ids:
            anomaly("DATA_LOSS", case, "known award %d not listed: %r %r" % (KNOWN["award_id"], ids, r), repro)
            return False
        return True
    finally:
        c.close()


def health_check_auth(case, repro=None):
    """The limits server's check: alive and answers an authorized Health (no restart, no award check)."""
    c = connect_checked(case, repro, restart=False)
    if c is None:
        return False
    r, _ = c.call(1, "Health", b"", metadata=AUTH_MD)
    c.close()
    if r is None or r.status != 0:
        anomaly("HEALTH_FAIL", case, repr(r), repro)
        return False
    return True


def restart_server():
    global SRV
    extra, name = SRV.extra, SRV.name
    try:
        SRV.stop(signal.SIGKILL)
    except Exception:
        pass
    SRV = Server(extra, name=name + "r")
    setup_known(SRV)


def bump(family, n=1):
    counts[family] = counts.get(family, 0) + n


def hist(fr):
    for f in fr:
        if f.end:
            k = (f.status, f.reason)
            status_hist[k] = status_hist.get(k, 0) + 1


BAD_STATUS = {2, 13, 15}  # UNKNOWN, INTERNAL, DATA_LOSS: never expected from garbage input


def check_statuses(case, fr, repro):
    for f in fr:
        if f.end and f.status in BAD_STATUS:
            anomaly("BAD_STATUS", case, repr(f), repro)


# ---------------------------------------------------------------- generic case runner
def run_raw(case, data, expect=None, chunks=None, read_timeout=2.0, close_early=False, pause=0.0,
            preface=PREFACE, family=None):
    """Open a connection, send preface+data, read what comes back. expect: None / 'conn_error:<reason>' /
    ('calls', {id: expected_status or None}) / 'nothing'."""
    bump(family or case.split(":")[0])
    try:
        c = Conn(SRV.sock, preface=None, wait_preface=False, timeout=5)
    except OSError as e:
        anomaly("CONNECT_FAIL", case, repr(e))
        health_check(case)
        return None
    payload = (preface or b"") + data
    if chunks:
        for i in range(0, len(payload), chunks):
            if not c.send(payload[i:i + chunks]):
                break
            if pause:
                time.sleep(pause)
    else:
        c.send(payload)
    fr = []
    if close_early:
        c.close()
    else:
        pre = c.read_preface(read_timeout)
        if expect is not None and isinstance(expect, tuple) and expect[0] == "calls":
            want = set(expect[1])
            fr = c.read_until(lambda fs: want <= {f.call_id for f in fs if f.end} or any(f.call_id == 0 for f in fs),
                              read_timeout)
        else:
            fr = c.read_until(lambda fs: any(f.call_id == 0 for f in fs), read_timeout)
        hist(fr)
        check_statuses(case, fr, payload)
        if expect is not None:
            verify_expect(case, c, pre, fr, expect, payload)
        c.close()
    health_check(case, payload)
    return fr


def verify_expect(case, c, pre, fr, expect, payload):
    if pre != PREFACE:
        anomaly("NO_SERVER_PREFACE", case, "preface=%r frames=%r closed=%s" % (pre, fr, c.closed), payload)
        return
    if isinstance(expect, str) and expect.startswith("conn_error:"):
        reason = expect.split(":", 1)[1]
        z = [f for f in fr if f.call_id == 0]
        if not z:
            anomaly("MISSING_CONN_ERROR", case, "expected %s, got %r closed=%s" % (reason, fr, c.closed), payload)
        elif z[0].reason != reason:
            anomaly("WRONG_STATUS", case, "expected %s, got %r" % (reason, z[0]), payload)
        else:
            if not c.wait_closed(3):
                anomaly("NOT_CLOSED", case, "conn error %s sent but connection left open" % reason, payload)
    elif isinstance(expect, tuple) and expect[0] == "calls":
        got = {}
        for f in fr:
            if f.end:
                got.setdefault(f.call_id, f)
        if 0 in got:
            anomaly("UNEXPECTED_CONN_ERROR", case, repr(got[0]), payload)
            return
        for cid, st in expect[1].items():
            if cid not in got:
                anomaly("NO_REPLY", case, "call %d got no final frame within timeout; frames=%r closed=%s" % (
                    cid, fr, c.closed), payload)
            elif st is not None:
                ok = got[cid].status in st if isinstance(st, (set, tuple, list)) else got[cid].status == st
                if not ok:
                    anomaly("WRONG_STATUS", case, "call %d expected %s got %r" % (cid, st, got[cid]), payload)
    elif expect == "nothing":
        if fr:
            anomaly("UNEXPECTED_FRAME", case, repr(fr), payload)


def F(env):
    return frame(env)


def call(cid, method, payload=b"", **kw):
    return F(request_frame(cid, method, payload, **kw))


HEALTH = lambda cid: call(cid, "Health")

# ---------------------------------------------------------------- templates
TZS = ["Europe/Paris", "", "UTC", "America/New_York", "Etc/GMT+12", "GMT+5", "GMT-14", "../../../etc/passwd",
       "/etc/localtime", "Europe/Nowhere", "X" * 300, "Europe/Paris\x00junk", "\xff\xfe", "Asia/Kathmandu",
       "posixrules", "Factory", "EST5EDT", "UTC+25:00", "+0530", "GMT+99", "localtime", "right/UTC", "../zone.tab"]


def templates():
    """(method, payload) valid-ish request templates."""
    n = rng.randrange(1 << 30)
    crit = criteria([criterion(key="buys", event_type="purchase", target=3.0,
                               conditions=[condition("amount", 4, number=1.0)]),
                     criterion(key="st", event_type="status", aggregate=4, attribute="tier", state_value="gold",
                               window=1, window_days=7)], tz="UTC", prereqs=["fz-b2"])
    return [
        ("Health", b""),
        ("PutBadge", put_badge(badge_def("fz-t%d" % (n % 50), name="T", description="d", rank=3, group="g",
                                         labels={"k": "v"}, repeatable=True, max_per_customer=5, criteria=crit),
                               replace=True)),
        ("GetBadge", fb(1, "fz-b1")),
        ("ListBadges", fv(1, 1)),
        ("DeactivateBadge", fb(1, "fz-t%d" % (n % 50))),
        ("Issue", issue("cust-%d" % (n % 100), "fz-b1", "req-%d" % n, source=1, evidence="ev",
                        fields={"a": "1", "b": "2"})),
        ("Revoke", revoke("cust-%d" % (n % 100), badge_id="fz-b1", reason="fuzz", actor="me")),
        ("List", list_req("cust-%d" % (n % 100), 5)),
        ("ExportAwards", export_req(after=max(0, KNOWN.get("award_id", 1) - 1), chunk=3)),
        ("Evaluate", evaluate("ev-%d" % n, "cust-%d" % (n % 100), "purchase", occurred=1764201600000,
                              tz="Europe/Paris", amount=12.5, attrs={"store": "s1"}, dry=rng.choice([0, 1]))),
    ]


# ---------------------------------------------------------------- deterministic families
def fam_valid():
    c = Conn(SRV.sock)
    exp = {"Health": 0, "PutBadge": 0, "GetBadge": 0, "ListBadges": 0, "DeactivateBadge": 0, "Issue": 0,
           "Revoke": 0, "List": 0, "ExportAwards": 0, "Evaluate": 0}
    cid = 10
    for m, p in templates():
        cid += 1
        if m == "DeactivateBadge":
            # make sure it exists
            c.call(cid, "PutBadge", put_badge(badge_def("fz-deact", name="x"), replace=True))
            cid += 1
            p = fb(1, "fz-deact")
        if m == "Revoke":
            c.call(cid, "Issue", issue("cust-rv", "fz-b1", "req-rv-%d" % cid))
            cid += 1
            p = revoke("cust-rv", badge_id="fz-b1", reason="fuzz")
        r, fr = c.call(cid, m, p)
        hist(fr)
        bump("valid")
        if r is None or r.status != exp[m]:
            anomaly("VALID_CALL_FAILED", "valid:" + m, repr(r) + " " + repr(fr), call(cid, m, p))
    c.close()
    health_check("valid")


def fam_preface():
    cases = [
        ("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "conn_error:bad_preface"),
        ("magic_x", b"BADGEX\x00\x01", "conn_error:bad_preface"),
        ("lower", b"badges\x00\x01", "conn_error:bad_preface"),
        ("v2", b"BADGES\x00\x02", "conn_error:unsupported_version"),
        ("v0", b"BADGES\x00\x00", "conn_error:unsupported_version"),
        ("vffff", b"BADGES\xff\xff", "conn_error:unsupported_version"),
        ("v256", b"BADGES\x01\x00", "conn_error:unsupported_version"),
        ("nul", b"\x00" * 8, "conn_error:bad_preface"),
        ("one_bad_byte", b"X", "conn_error:bad_preface"),
        ("tls_hello", bytes.fromhex("160301020001"), "conn_error:bad_preface"),
        ("long_garbage", rng.randbytes(100000), "conn_error:bad_preface"),
    ]
    for name, data, exp in cases:
        run_raw("preface:" + name, data, expect=exp, preface=b"")
    # partial prefaces then close
    for k in range(0, 8):
        run_raw("preface:partial_close%d" % k, b"", preface=PREFACE[:k], close_early=True)
    # preface byte-by-byte then a call
    run_raw("preface:bytewise", HEALTH(1), expect=("calls", {1: 0}), chunks=1, pause=0.002)
    # double preface -> length 0x42414447 -> frame_too_large
    run_raw("preface:double", PREFACE, expect="conn_error:frame_too_large")
    # preface + frames in one write
    run_raw("preface:pipelined", HEALTH(1) + HEALTH(2) + call(3, "List", list_req("KNOWN-cust-zz9")),
            expect=("calls", {1: 0, 2: 0, 3: 0}))
    # half-written preface then wait (preface timeout = 2s on this server)
    run_raw("preface:timeout_partial", b"", preface=b"BADG", expect="conn_error:preface_timeout", read_timeout=5)
    run_raw("preface:timeout_none", b"", preface=b"", expect="conn_error:preface_timeout", read_timeout=5)


def fam_framing():
    mf = 4194304
    run_raw("frame:len0", struct.pack(">I", 0), expect="conn_error:invalid_call_id")
    for L in [mf + 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFE, 1 << 24]:
        run_raw("frame:len%x" % L, struct.pack(">I", L), expect="conn_error:frame_too_large")
    # exactly max: Health with a payload padded by an unknown field
    env_base = request_frame(1, "Health", None)
    pad_needed = mf - len(env_base)
    # payload = unknown field 15 bytes of size k; field6 wrapper
    for k in range(pad_needed - 20, pad_needed):
        inner = fb(15, b"\x00" * k)
        env = env_base + fb(6, inner)
        if len(env) == mf:
            break
    assert len(env) == mf, len(env)
    run_raw("frame:exact_max", F(env), expect=("calls", {1: 0}), read_timeout=10)
    run_raw("frame:max_plus1", F(env + b"\x00"), expect="conn_error:frame_too_large")
    # huge frame declared valid then truncated / close
    run_raw("frame:trunc_close_big", struct.pack(">I", mf) + b"\x08\x01", close_early=True)
    for cut in [1, 2, 3, 4, 5, 10]:
        fr = call(1, "Issue", issue("c-trunc", "fz-b1", "req-trunc-%d" % cut))
        run_raw("frame:trunc_close%d" % cut, fr[:-cut] if cut < len(fr) else fr[:1], close_early=True)
    # truncated length only
    run_raw("frame:len_2bytes_close", b"\x00\x00", close_early=True)
    # partial frame -> frame_timeout (server started with --frame-timeout-seconds 2)
    run_raw("frame:timeout_partial_len", b"\x00\x00", expect="conn_error:frame_timeout", read_timeout=6)
    run_raw("frame:timeout_partial_body", HEALTH(1)[:-3], expect="conn_error:frame_timeout", read_timeout=6)
    run_raw("frame:timeout_after_call", HEALTH(1) + HEALTH(2)[:5], read_timeout=6,
            expect="conn_error:frame_timeout")
    # slowloris within limit: 1 byte per 20ms for a Health frame (~45 bytes ~ 1s)
    run_raw("frame:slowloris_ok", HEALTH(7), expect=("calls", {7: 0}), chunks=1, pause=0.02, read_timeout=5)
    # slowloris exceeding limit (3s for a ~45-byte frame at 70ms/byte) while sending
    run_raw("frame:slowloris_timeout", HEALTH(8), chunks=1, pause=0.1, read_timeout=3,
            expect="conn_error:frame_timeout")
    # trailing garbage after a valid frame
    run_raw("frame:trailing_garbage", HEALTH(1) + b"\x00\x00\x00\x03\xff\xff\xff",
            expect="conn_error:malformed_envelope")
    # many tiny frames
    run_raw("frame:many", b"".join(HEALTH(i) for i in range(1, 3001)), expect=("calls", {3000: 0}),
            read_timeout=10)
    # split frames at every boundary
    data = HEALTH(1) + call(2, "List", list_req("KNOWN-cust-zz9")) + HEALTH(3)
    run_raw("frame:split13", data, expect=("calls", {1: 0, 2: 0, 3: 0}), chunks=13)
    run_raw("frame:split1", data, expect=("calls", {1: 0, 2: 0, 3: 0}), chunks=1)


def fam_envelope():
    H = M + "Health"
    base = fv(1, 5) + fb(3, H)
    E = lambda name, env, exp: run_raw("env:" + name, F(env), expect=exp)
    E("callid0", request_frame(0, "Health"), "conn_error:invalid_call_id")
    E("cancel_callid0", request_frame(0, None, kind=1), "conn_error:invalid_call_id")
    E("callid_max", request_frame((1 << 64) - 1, "Health"), ("calls", {(1 << 64) - 1: 0}))
    E("callid_explicit0_then1", fv(1, 0) + fv(1, 9) + fb(3, H), ("calls", {9: 0}))
    E("callid_1_then0", fv(1, 9) + fv(1, 0) + fb(3, H), "conn_error:invalid_call_id")
    # wrong wire types
    for f in range(1, 7):
        for wt, val in [(0, varint(1)), (1, b"\x00" * 8), (2, b"\x01\x41"), (5, b"\x00" * 4), (3, b""), (4, b""),
                        (6, b""), (7, b"")]:
            exp_ok = (f in (1, 2, 4) and wt == 0) or (f in (3, 5, 6) and wt == 2)
            if exp_ok:
                continue
            E("wt_f%d_wt%d" % (f, wt), base + tag(f, wt) + val, "conn_error:malformed_envelope")
    # unknown fields
    for wt, val in [(0, varint(123)), (1, b"\x00" * 8), (2, b"\x02ab"), (5, b"\x00" * 4)]:
        E("unknown_f9_wt%d" % wt, base + tag(9, wt) + val, ("calls", {5: 0}))
        E("unknown_f999999_wt%d" % wt, base + tag(999999, wt) + val, ("calls", {5: 0}))
        E("unknown_fmax_wt%d" % wt, base + tag((1 << 29) - 1, wt) + val, ("calls", {5: 0}))
    E("unknown_group_start", base + tag(9, 3), "conn_error:malformed_envelope")
    E("unknown_group_pair", base + tag(9, 3) + tag(9, 4), "conn_error:malformed_envelope")
    E("tag_field0", base + b"\x00\x01", "conn_error:malformed_envelope")
    E("tag_field0_padded", base + b"\x80\x80\x00\x01", "conn_error:malformed_envelope")
    E("tag_6bytes", base + b"\x88\x80\x80\x80\x80\x00" + b"\x01", "conn_error:malformed_envelope")
    E("tag_5bytes_ok", base + b"\xc8\x80\x80\x80\x00" + b"\x01", ("calls", {5: 0}))  # field 9 padded
    E("tag_field_2pow32", base + varint((1 << 32) << 3) + b"\x01", "conn_error:malformed_envelope")
    E("varint_11bytes", b"\x08" + b"\xff" * 10 + b"\x01" + fb(3, H), "conn_error:malformed_envelope")
    E("varint_10bytes_overflow", b"\x08" + b"\xff" * 9 + b"\x7f" + fb(3, H), None)
    E("varint_padded_callid", b"\x08\x85\x80\x80\x80\x80\x80\x80\x80\x80\x00" + fb(3, H), ("calls", {5: 0}))
    E("varint_unterminated_end", fb(3, H) + b"\x08\xff\xff", "conn_error:malformed_envelope")
    E("len_past_end_method", fv(1, 5) + tag(3, 2) + varint(100) + b"abc", "conn_error:malformed_envelope")
    E("len_past_end_payload", base + tag(6, 2) + varint(1 << 40) + b"abc", "conn_error:malformed_envelope")
    E("len_huge_payload", base + tag(6, 2) + b"\xff" * 9 + b"\x01", "conn_error:malformed_envelope")
    E("len_past_end_md", base + tag(5, 2) + varint(50) + b"\x0a\x01a", "conn_error:malformed_envelope")
    E("len_neg_1", base + tag(6, 2) + varint((1 << 64) - 1), "conn_error:malformed_envelope")
    E("len_2pow63", base + tag(6, 2) + varint(1 << 63), "conn_error:malformed_envelope")
    # kinds
    for k in [0, 2, 3, 0xFFFFFFFF, (1 << 64) - 1, 1 << 63]:
        E("kind_%x" % k, fv(1, 5) + fv(2, k) + fb(3, H), ("calls", {5: 0}))
    E("kind_cancel_unknown", fv(1, 77) + fv(2, 1), "nothing")
    run_raw("env:cancel_unknown_then_health", F(fv(1, 77) + fv(2, 1)) + HEALTH(2), expect=("calls", {2: 0}))
    run_raw("env:cancel_with_garbage_fields", F(fv(1, 77) + fv(2, 1) + fb(3, b"\xff\xfe") + fb(6, rng.randbytes(50)))
            + HEALTH(2), expect=("calls", {2: 0}))
    # duplicate fields
    E("dup_method", fv(1, 5) + fb(3, "junk") + fb(3, H), ("calls", {5: 0}))
    E("dup_method_rev", fv(1, 5) + fb(3, H) + fb(3, "junk"), ("calls", {5: 12}))
    E("dup_payload", fv(1, 5) + fb(3, M + "List") + fb(6, list_req("a")) + fb(6, list_req("KNOWN-cust-zz9")),
      ("calls", {5: 0}))
    E("fields_reversed", fb(6, b"") + fb(3, H) + fv(1, 5), ("calls", {5: 0}))
    # methods
    for name, m in [("empty", b""), ("bad_utf8", b"\xff\xfe\xfd"), ("nul", (M + "Health\x00").encode()),
                    ("lower", (M.lower() + "health").encode()), ("prefix", M.encode()),
                    ("no_prefix", b"Health"), ("trailing_space", (M + "Health ").encode()),
                    ("long", b"A" * 1000000), ("long_utf8", ("\u00e9" * 300000).encode()),
                    ("overlong_utf8", b"badges.v1.Badges/He\xc0\xacalth"), ("slash_only", b"/"),
                    ("unicode_lookalike", (M + "H\u0435alth").encode()), ("grpc_style", b"/badges.v1.Badges/Health"),
                    ("surrogate", b"\xed\xa0\x80"), ("all_bytes", bytes(range(256)))]:
        E("method_" + name, fv(1, 5) + fb(3, m), ("calls", {5: 12}))
    E("no_method", fv(1, 5), ("calls", {5: 12}))
    # metadata oddities (no token configured on this server: ignored)
    mds = {
        "empty_entry": fb(5, b""),
        "key_only": fb(5, fb(1, "authorization")),
        "value_only": fb(5, fb(2, "Bearer x")),
        "bad_utf8": fb(5, fb(1, b"\xff\xff") + fb(2, b"\xc3\x28")),
        "nul_key": fb(5, fb(1, b"a\x00b") + fb(2, b"v")),
        "unknown_inner": fb(5, fb(3, b"zz") + fv(4, 9) + fb(1, "k") + fb(2, "v")),
        "dup_keys": fb(5, fb(1, "k") + fb(2, "1")) + fb(5, fb(1, "k") + fb(2, "2")),
        "many_10000": b"".join(fb(5, fb(1, "k%d" % i) + fb(2, "v")) for i in range(10000)),
        "same_key_20000": b"".join(fb(5, fb(1, "authorization") + fb(2, "x%d" % i)) for i in range(20000)),
        "huge_value": fb(5, fb(1, "k") + fb(2, b"v" * 3000000)),
        "nested_repeat_inner": fb(5, fb(1, "a") + fb(1, "b") + fb(2, "c") + fb(2, "d")),
        "equiv_keys": fb(5, fb(1, "Jos\u00e9") + fb(2, "1")) + fb(5, fb(1, "Jose\u0301") + fb(2, "2")),
    }
    for name, md in mds.items():
        E("md_" + name, fv(1, 5) + fb(3, H) + md, ("calls", {5: 0}))
    bad_md = {
        "inner_wt_wrong_key": fb(5, tag(1, 0) + varint(5)),
        "inner_wt_wrong_val": fb(5, fb(1, "k") + tag(2, 5) + b"\x00" * 4),
        "inner_len_past_end": fb(5, tag(1, 2) + varint(40) + b"abc"),
        "inner_tag0": fb(5, b"\x00\x00"),
        "inner_group": fb(5, tag(7, 3)),
        "inner_trunc_varint": fb(5, tag(9, 0) + b"\xff"),
        "md_as_varint": tag(5, 0) + varint(3),
    }
    for name, md in bad_md.items():
        E("md_" + name, fv(1, 5) + fb(3, H) + md, "conn_error:malformed_envelope")
    # deadlines
    for name, t, m, p, st in [
        ("1us_health", 1, "Health", b"", {0, 4}), ("max_health", (1 << 64) - 1, "Health", b"", 0),
        ("2pow63_health", 1 << 63, "Health", b"", 0), ("i64max_div1000p1", (2 ** 63 - 1) // 1000 + 1, "Health", b"", 0),
        ("1us_issue", 1, "Issue", issue("c-dl", "fz-b1", "req-dl-1"), {0, 4}),
        ("1us_put", 1, "PutBadge", put_badge(badge_def("fz-dl", name="x"), replace=True), {0, 4}),
        ("max_issue", (1 << 64) - 1, "Issue", issue("c-dl", "fz-b1", "req-dl-2"), 0),
        ("2pow63_issue", 1 << 63, "Issue", issue("c-dl", "fz-b1", "req-dl-3"), 0),
        ("i64max_div1000_issue", (2 ** 63 - 1) // 1000, "Issue", issue("c-dl", "fz-b1", "req-dl-4"), 0),
        ("1us_export", 1, "ExportAwards", export_req(chunk=1), {0, 4}),
        ("max_export", (1 << 64) - 1, "ExportAwards", export_req(chunk=1), 0),
        ("1us_eval", 1, "Evaluate", evaluate("ev-dl-1", "c-dl", "purchase"), {0, 4}),
        ("1000us_eval", 1000, "Evaluate", evaluate("ev-dl-2", "c-dl", "purchase"), {0, 4}),
        ("1us_unknown", 1, "Nope", b"", 12),
    ]:
        run_raw("deadline:" + name, call(3, m, p, timeout=t), expect=("calls", {3: st}), read_timeout=5)


def fam_callids():
    iss = lambda cid, r: call(cid, "Issue", issue("c-dup", "fz-b1", r))
    # duplicate in-flight write ids in one burst
    run_raw("callid:dup_write_burst", iss(5, "req-dup-a") + iss(5, "req-dup-b"), expect="conn_error:duplicate_call_id")
    # duplicate ids for reads in one burst: reads are answered at once, so not in flight
    run_raw("callid:dup_read_burst", HEALTH(5) + HEALTH(5) + HEALTH(5), expect=("calls", {5: 0}))
    # reuse after completion
    bump("callid:reuse_after_done")
    c = Conn(SRV.sock)
    for i in range(3):
        r, fr = c.call(9, "Issue", issue("c-dup", "fz-b1", "req-reuse-%d-%d" % (i, rng.randrange(1 << 30))))
        if r is None or r.status != 0 or r.call_id != 9:
            anomaly("WRONG_STATUS", "callid:reuse_after_done", repr(fr))
    c.close()
    health_check("callid:reuse_after_done")
    # cancel in-flight write, same burst
    run_raw("cancel:write_same_burst", iss(5, "req-cx-%d" % rng.randrange(1 << 30)) + F(request_frame(5, kind=1)),
            expect=("calls", {5: {0, 1}}))
    run_raw("cancel:twice", iss(5, "req-cx-%d" % rng.randrange(1 << 30)) + F(request_frame(5, kind=1)) * 3 + HEALTH(6),
            expect=("calls", {5: {0, 1}, 6: 0}))
    run_raw("cancel:then_reuse_id", iss(5, "req-cx-%d" % rng.randrange(1 << 30)) + F(request_frame(5, kind=1))
            + iss(5, "req-cx-%d" % rng.randrange(1 << 30)), expect=("calls", {5: None}))
    run_raw("cancel:unknown_many", b"".join(F(request_frame(i, kind=1)) for i in range(1, 2000)) + HEALTH(1),
            expect=("calls", {1: 0}))
    run_raw("cancel:read_after_done", HEALTH(4) + F(request_frame(4, kind=1)) + HEALTH(5), expect=("calls", {4: 0, 5: 0}))


def fam_inflight():
    # lots of writes pipelined in one burst (> default 1024 in flight)
    n = 1300
    data = b"".join(call(i, "Issue", issue("c-many", "fz-b1", "req-many-%d-%d" % (SEED, i))) for i in range(1, n + 1))
    fr = run_raw("inflight:1300_issues", data, expect=("calls", {i: {0, 8} for i in range(1, n + 1)}), read_timeout=30)
    if fr:
        st = {}
        for f in fr:
            st[(f.status, f.reason)] = st.get((f.status, f.reason), 0) + 1
        log("inflight:1300_issues statuses", st)
    # reads not read back (backpressure), then close
    bump("inflight:unread_lists")
    c = Conn(SRV.sock)
    c.s.setblocking(False)
    blob = b"".join(call(i, "List", list_req("KNOWN-cust-zz9")) for i in range(1, 20001))
    sent = 0
    t_end = time.monotonic() + 5
    while sent < len(blob) and time.monotonic() < t_end:
        try:
            sent += c.s.send(blob[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    log("unread_lists sent", sent, "of", len(blob))
    time.sleep(1)
    c.s.setblocking(True)
    c.s.settimeout(10)
    fsz = len(call(1, "List", list_req("KNOWN-cust-zz9")))
    # frames have ids 1..20000, sizes vary slightly with the id's varint length: count complete ones
    off, nfull = 0, 0
    for i in range(1, 20001):
        L = len(call(i, "List", list_req("KNOWN-cust-zz9")))
        if off + L > sent:
            break
        off += L
        nfull += 1
    got = c.read_until(lambda fs: len(fs) >= nfull, 20)
    if len(got) != nfull:
        anomaly("NO_REPLY", "inflight:unread_lists", "sent %d/%d bytes (%d whole frames), got %d replies" % (sent, len(blob), nfull, len(got)))
    c.close()
    health_check("inflight:unread_lists")
    # writes in flight then abrupt close
    for k in range(3):
        data = b"".join(call(i, "Evaluate", evaluate("ev-ab-%d-%d-%d" % (SEED, k, i), "c-ab", "purchase", amount=1.0))
                        for i in range(1, 300))
        run_raw("inflight:abrupt_close_writes", data, close_early=True)
    # abrupt close with RST (SO_LINGER 0) mid-frame
    bump("inflight:rst_midframe")
    c = Conn(SRV.sock)
    c.send(call(1, "Issue", issue("c-ab", "fz-b1", "req-rst-%d" % SEED)) + HEALTH(2)[:7])
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    health_check("inflight:rst_midframe")
    # big export: make many awards, stream with small chunks, don't read, then close; and cancel
    c = Conn(SRV.sock)
    blob = b"".join(call(i, "Issue", issue("c-exp-%d" % (i % 50), "fz-b1", "req-exp-%d-%d" % (SEED, i),
                                           evidence="E" * 2000)) for i in range(1, 1001))
    c.send(blob)
    c.read_until(lambda fs: len([f for f in fs if f.end]) >= 1000, 30)
    c.close()
    run_raw("export:unread_close", call(1, "ExportAwards", export_req(chunk=1)), close_early=True)
    run_raw("export:cancel", call(1, "ExportAwards", export_req(chunk=1)) + F(request_frame(1, kind=1)),
            expect=("calls", {1: {0, 1}}), read_timeout=30)
    run_raw("export:chunk_huge", call(1, "ExportAwards", export_req(chunk=0xFFFFFFFF)), expect=("calls", {1: 0}),
            read_timeout=30)
    run_raw("export:after_max", call(1, "ExportAwards", export_req(after=(1 << 64) - 1)), expect=("calls", {1: 0}))
    hc = Conn(SRV.sock)
    total = g(parse(hc.call(1, "Health")[0].payload), 6)
    hc.close()
    run_raw("export:many_streams", b"".join(call(i, "ExportAwards", export_req(after=max(0, total - 300), chunk=7))
                                            for i in range(1, 41)),
            expect=("calls", {i: 0 for i in range(1, 41)}), read_timeout=60)
    run_raw("export:deadline_mid", call(1, "ExportAwards", export_req(chunk=1), timeout=20000),
            expect=("calls", {1: {0, 4}}), read_timeout=30)
    # export then dup id while streaming (stream in flight because we don't read)
    bump("export:dup_id_while_streaming")
    c = Conn(SRV.sock)
    c.send(call(1, "ExportAwards", export_req(chunk=1)))
    time.sleep(0.3)
    c.send(call(1, "Health"))
    fr = c.read_until(lambda fs: any(f.end for f in fs), 30)
    ends = [f for f in fr if f.end]
    log("dup_id_while_streaming", ends[:3])
    c.close()
    health_check("export:dup_id_while_streaming")
    # many concurrent connections with partial frames
    bump("conns:200_partial")
    conns = []
    for i in range(200):
        try:
            cc = Conn(SRV.sock, wait_preface=False)
            cc.send(HEALTH(1)[:5])
            conns.append(cc)
        except OSError as e:
            anomaly("CONNECT_FAIL", "conns:200_partial", repr(e))
            break
    health_check("conns:200_partial(open)")
    for cc in conns:
        cc.close()
    health_check("conns:200_partial")


# ---------------------------------------------------------------- payload garbage
def payload_cases():
    """Structured malformed payloads per method: (name, method, payload, allowed statuses or None)."""
    out = []
    longs = "x" * 5000
    for m in METHODS:
        out.append(("empty_" + m, m, b"", None))
        out.append(("random64_" + m, m, rng.randbytes(64), None))
        for f in range(1, 20):
            for wt, v in [(0, varint(1)), (1, b"\x00" * 8), (2, b"\x01a"), (5, b"\x00" * 4)]:
                out.append(("wt_%s_f%d_wt%d" % (m, f, wt), m, tag(f, wt) + v, None))
        out.append(("group_" + m, m, tag(1, 3) + tag(1, 4), {3}))
        out.append(("len_past_" + m, m, tag(1, 2) + varint(100) + b"ab", {3}))
        out.append(("overlong_varint_" + m, m, tag(2, 0) + b"\xff" * 10 + b"\x01", {3}))
        out.append(("trunc_varint_" + m, m, tag(2, 0) + b"\xff", {3}))
        out.append(("tag0_" + m, m, b"\x00\x01", {3}))
    # strings: invalid UTF-8, NUL, long, in every string field
    str_fields = {
        "Issue": (lambda s: issue(s, "fz-b1", "req-u-%d" % rng.randrange(1 << 40)), lambda s: issue("cu", s, "rq"),
                  lambda s: issue("cu-%d" % rng.randrange(1 << 30), "fz-b1", s),
                  lambda s: issue("cu-%d" % rng.randrange(1 << 30), "fz-b1", "rq-%d" % rng.randrange(1 << 40), evidence=s),
                  lambda s: issue("cu-%d" % rng.randrange(1 << 30), "fz-b1", "rq-%d" % rng.randrange(1 << 40), fields={s: s})),
        "List": (lambda s: list_req(s),),
        "GetBadge": (lambda s: fb(1, s),),
        "Evaluate": (lambda s: evaluate(s, "cu", "purchase", dry=1), lambda s: evaluate("e%d" % rng.randrange(1 << 40), s, "purchase"),
                     lambda s: evaluate("e%d" % rng.randrange(1 << 40), "cu", s), lambda s: evaluate("e%d" % rng.randrange(1 << 40), "cu", "purchase", tz=s),
                     lambda s: evaluate("e%d" % rng.randrange(1 << 40), "cu", "purchase", attrs={s: s}),
                     lambda s: evaluate("e%d" % rng.randrange(1 << 40), "cu", "purchase", attrs={"store": s})),
        "Revoke": (lambda s: revoke(s, badge_id="fz-b1"), lambda s: revoke("cu", badge_id="fz-b1", reason=s),
                   lambda s: revoke("cu", badge_id="fz-b1", actor=s)),
        "PutBadge": (lambda s: put_badge(badge_def("fz-s%d" % rng.randrange(50), name=s), replace=True),
                     lambda s: put_badge(badge_def("fz-s%d" % rng.randrange(50), description=s, icon=s, group=s), replace=True),
                     lambda s: put_badge(badge_def("fz-s%d" % rng.randrange(50), labels={s: s}), replace=True),
                     lambda s: put_badge(badge_def(s, name="x"), replace=True),
                     lambda s: put_badge(badge_def("fz-s%d" % rng.randrange(50), criteria=criteria(
                         [criterion(key=s, event_type=s, attribute=s, unit=s, conditions=[condition(s, 2, [s, s])])],
                         prereqs=[s], tz=s)), replace=True)),
    }
    specials = [b"\xff\xfe", b"a\x00b", b"\x00", longs.encode(), b"x" * 129, b"x" * 128, b"\x01ctrl", b"\x7f",
                "\ufffd".encode(), "\u00e9".encode(), b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80",
                ("\U0001F600" * 40).encode(), b" ", b"event:x:y"]
    for m, fns in str_fields.items():
        for i, fn in enumerate(fns):
            for j, s in enumerate(specials):
                out.append(("str_%s_%d_%d" % (m, i, j), m, fn(s), None))
    # maps
    for m, mk in [("Issue", lambda e: issue("cu-map", "fz-b1", "rq-map-%d" % rng.randrange(1 << 40)) + e),
                  ("Evaluate", lambda e: evaluate("e-map-%d" % rng.randrange(1 << 40), "cu-map", "purchase") + e),
                  ("PutBadge", lambda e: fb(1, badge_def("fz-map", name="x") + e.replace(b"\x32", b"\x7a", 0)) + fv(2, 1))]:
        fnum = {"Issue": 6, "Evaluate": 7, "PutBadge": 15}[m]
        entries = {
            "missing_key": fb(fnum, fb(2, "v")),
            "missing_value": fb(fnum, fb(1, "k")),
            "empty_entry": fb(fnum, b""),
            "wrong_wt": fb(fnum, fv(1, 7)),
            "extra_fields": fb(fnum, fb(1, "k") + fb(2, "v") + fb(3, "z") + fv(9, 1)),
            "65": b"".join(fb(fnum, fb(1, "k%d" % i) + fb(2, "v")) for i in range(65)),
            "64": b"".join(fb(fnum, fb(1, "k%d" % i) + fb(2, "v")) for i in range(64)),
            "dup": fb(fnum, fb(1, "k") + fb(2, "1")) + fb(fnum, fb(1, "k") + fb(2, "2")),
            "1000dup": b"".join(fb(fnum, fb(1, "k") + fb(2, "v%d" % i)) for i in range(1000)),
            "nested_garbage": fb(fnum, tag(1, 2) + varint(200) + b"x"),
            "key_badutf8": fb(fnum, fb(1, b"\xff") + fb(2, b"v")),
            "val_4097": fb(fnum, fb(1, "k") + fb(2, "v" * 4097)),
        }
        for name, e in entries.items():
            if m == "PutBadge":
                p = put_badge(badge_def("fz-map", name="x") + e, replace=True)
            else:
                p = mk(e)
            out.append(("map_%s_%s" % (m, name), m, p, None))
    # numbers / enums edge values
    I64 = [0, 1, -1, 2 ** 63 - 1, -(2 ** 63), 253402300799999, 253402300800000, 2 ** 53, -253402300799999]
    for v in I64:
        for fld in ["valid_from", "valid_until", "expires_after", "expires_at", "created", "updated", "rank"]:
            out.append(("i64_put_%s_%d" % (fld, v), "PutBadge",
                        put_badge(badge_def("fz-num%d" % rng.randrange(20), name="x", **{fld: v}), replace=True), None))
        out.append(("i64_eval_occ_%d" % v, "Evaluate", evaluate("e-num-%d" % rng.randrange(1 << 40), "cu-num", "purchase",
                                                                 occurred=v, dry=rng.choice([0, 1])), None))
        out.append(("u64_revoke_award_%d" % v, "Revoke", revoke("cu-num", award_id=v, reason="x"), None))
        out.append(("u32_list_%d" % v, "List", list_req("cu-num", v), None))
        out.append(("u32_export_chunk_%d" % v, "ExportAwards", export_req(after=v if v > 0 else None, chunk=v), None))
        out.append(("u32_maxper_%d" % v, "PutBadge", put_badge(badge_def("fz-num%d" % rng.randrange(20), name="x",
                    repeatable=True, max_per_customer=v, global_cap=v), replace=True), None))
        out.append(("enum_src_%d" % v, "Issue", issue("cu-num", "fz-b1", "rq-num-%d" % rng.randrange(1 << 40), source=v), None))
        out.append(("enum_status_%d" % v, "PutBadge", put_badge(badge_def("fz-num%d" % rng.randrange(20), name="x", status=v), replace=True), None))
    for x in [float("nan"), float("inf"), -float("inf"), -0.0, 5e-324, 1.7976931348623157e308, -1.0, 1e300, 1e-300]:
        out.append(("dbl_amount_%r" % x, "Evaluate", evaluate("e-dbl-%d" % rng.randrange(1 << 40), "cu-dbl", "purchase",
                                                               amount=x, dry=rng.choice([0, 1])), None))
        for agg in [0, 1, 2, 3, 4]:
            out.append(("dbl_target_%r_agg%d" % (x, agg), "PutBadge", put_badge(badge_def(
                "fz-dbl%d" % agg, name="x", repeatable=True, criteria=criteria(
                    [criterion(key="c", event_type="dbl", aggregate=agg, attribute="a", state_value="s", target=x,
                               conditions=[condition("amount", 4, number=x), condition("a", 6, number=x)])])),
                replace=True), None))
    # criteria enum / range edges
    crits = []
    for agg in [0, 1, 2, 3, 4, 5, 99, -1, 2 ** 31]:
        for win in [0, 1, 2, 3, 4, 5, 6, 99, -1]:
            crits.append(("agg%d_win%d" % (agg, win), criterion(key="c", event_type="ce", aggregate=agg, attribute="a",
                                                                state_value="s", window=win, window_days=rng.choice([0, 1, 7, 366, 36500, 2 ** 32 - 1]), target=2)))
    for wd in [0, 1, 400, 3650, 100000, 2 ** 31, 2 ** 32 - 1]:
        crits.append(("wd%d" % wd, criterion(key="c", event_type="ce", window=1, window_days=wd, target=2)))
    for su in [0, 1, 2, 99, -1]:
        for win in [0, 1, 3]:
            crits.append(("streak_su%d_win%d" % (su, win), criterion(key="c", event_type="ce", aggregate=3, streak_unit=su,
                                                                     window=win, window_days=30, target=3)))
    for tod in [(0, 0), (1439, 0), (1440, 0), (0, 1440), (2 ** 32 - 1, 5), (5, 2 ** 32 - 1), (1320, 300), (None, None)]:
        crits.append(("tod_%s_%s" % tod, criterion(key="c", event_type="ce", tod=fv(1, tod[0]) + fv(2, tod[1]) if tod[0] is not None else b"")))
    for dow in [(0,), (8,), (1, 1, 1), tuple(range(1, 8)), (2 ** 32 - 1,), tuple(range(1000))]:
        crits.append(("dow_%d" % len(dow), criterion(key="c", event_type="ce", dow=dow)))
    crits.append(("dow_packed", criterion(key="c", event_type="ce") + fb(12, b"".join(varint(d) for d in [1, 2, 3]))))
    crits.append(("dow_packed_garbage", criterion(key="c", event_type="ce") + fb(12, b"\xff\xff")))
    for op in [0, 1, 2, 3, 4, 5, 6, 7, 8, 99, -1]:
        crits.append(("op%d" % op, criterion(key="c", event_type="ce", conditions=[condition("a", op, ["x"] * rng.choice([0, 1, 3]), number=1.0)])))
    crits.append(("1000conds", criterion(key="c", event_type="ce", conditions=[condition("a%d" % i, 2, ["v"] * 10) for i in range(1000)])))
    crits.append(("empty_key", criterion(key="", event_type="ce")))
    crits.append(("empty_type", criterion(key="c", event_type="")))
    for name, cr in crits:
        for combine in [0, 1, 5]:
            out.append(("crit_%s_comb%d" % (name, combine), "PutBadge", put_badge(badge_def(
                "fz-crit", name="x", repeatable=rng.choice([True, False]), criteria=criteria([cr], combine=combine, tz=rng.choice(TZS[:6]))),
                replace=True), None))
    out.append(("crit_dup_keys", "PutBadge", put_badge(badge_def("fz-crit", name="x", criteria=criteria(
        [criterion(key="a", event_type="ce"), criterion(key="a", event_type="ce")])), replace=True), None))
    out.append(("crit_200", "PutBadge", put_badge(badge_def("fz-crit2", name="x", criteria=criteria(
        [criterion(key="a%d" % i, event_type="ce") for i in range(200)])), replace=True), None))
    out.append(("crit_empty", "PutBadge", put_badge(badge_def("fz-crit3", name="x", criteria=b""), replace=True), None))
    out.append(("crit_prereq_self", "PutBadge", put_badge(badge_def("fz-crit4", name="x", criteria=criteria(
        [criterion(key="a", event_type="ce")], prereqs=["fz-crit4", "fz-crit4"])), replace=True), None))
    out.append(("crit_prereq_bad", "PutBadge", put_badge(badge_def("fz-crit5", name="x", criteria=criteria(
        [criterion(key="a", event_type="ce")], prereqs=["", "bad id!", "x" * 200])), replace=True), None))
    for tz in TZS:
        out.append(("tz_crit_%r" % tz[:20], "PutBadge", put_badge(badge_def("fz-tz", name="x", criteria=criteria(
            [criterion(key="a", event_type="ce", window=3)], tz=tz)), replace=True), None))
        out.append(("tz_eval_%r" % tz[:20], "Evaluate", evaluate("e-tz-%d" % rng.randrange(1 << 40), "cu-tz", "ce", tz=tz,
                                                                  dry=rng.choice([0, 1])), None))
    # PutBadge with missing badge / badge as wrong type, nested garbage
    out.append(("put_no_badge", "PutBadge", fv(2, 1), {3}))
    out.append(("put_badge_garbage", "PutBadge", fb(1, rng.randbytes(40)), None))
    out.append(("put_badge_deep", "PutBadge", fb(1, fb(18, fb(2, fb(3, fb(3, b"\xff" * 5))))), None))
    out.append(("revoke_nothing", "Revoke", fb(1, "cu") + fb(4, "r"), {3}))
    out.append(("list_1001", "List", list_req("KNOWN-cust-zz9", 1001), {3}))
    # evaluate after the criteria edge badges exist: real events with weird times
    for occ in [1, 86400000 * 7 - 1, 253402300799999, 1764201600000]:
        for tz in ["", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"]:
            out.append(("eval_ce_%d_%s" % (occ, tz), "Evaluate", evaluate("e-ce-%d" % rng.randrange(1 << 40),
                        "cu-ce-%d" % rng.randrange(5), "ce", occurred=occ, tz=tz, amount=1.0, attrs={"a": "s"}), None))
    return out


def fam_payloads():
    cases = payload_cases()
    log("payload cases", len(cases))
    c = None
    cid = 0
    for name, m, p, allowed in cases:
        if time.monotonic() - T0 > BUDGET * 0.6:
            log("payload phase cut short for time")
            break
        bump("payload")
        if c is None:
            c = Conn(SRV.sock)
        cid += 1
        r, fr = c.call(cid, m, p, timeout_s=5)
        hist(fr)
        repro = call(cid, m, p)
        if r is None:
            if not SRV.alive():
                anomaly("SERVER_DEATH", "payload:" + name, {"rc": SRV.p.returncode, "stderr": SRV.stderr_tail()}, repro)
                restart_server()
            else:
                anomaly("NO_REPLY", "payload:" + name, "frames=%r closed=%s" % (fr, c.closed), repro)
            c.close()
            c = None
            health_check("payload:" + name, repro)
            continue
        if r.call_id == 0:
            anomaly("UNEXPECTED_CONN_ERROR", "payload:" + name, repr(r), repro)
            c.close()
            c = None
        elif r.status in BAD_STATUS or (allowed is not None and r.status not in allowed):
            anomaly("BAD_STATUS", "payload:" + name, repr(r), repro)
        log("payload", name, r.status, r.reason)
        if cid % 25 == 0:
            health_check("payload:" + name, repro)
    if c:
        c.close()
    health_check("payload:end")


def fam_semantics():
    """Integrity: ids that differ in bytes but are canonically equivalent Strings must stay distinct."""
    c = Conn(SRV.sock)
    tagn = rng.randrange(1 << 30)
    nfc, nfd = "Jos\u00e9-%d" % tagn, "Jose\u0301-%d" % tagn
    bump("semantic")
    r, _ = c.call(1, "Issue", issue(nfc, "fz-b2", "rq-nfc-%d" % tagn))
    ids_nfc, _ = list_award_ids(c, 2, nfc)
    ids_nfd, r2 = list_award_ids(c, 3, nfd)
    log("semantic nfc", r, ids_nfc, ids_nfd)
    if ids_nfd:
        anomaly("WRONG_BEHAVIOUR", "semantic:equiv_customer_list",
                "award issued to %r is listed for %r: %r" % (nfc.encode(), nfd.encode(), ids_nfd))
    # Again after warming the list cache for nfd first
    tagn2 = tagn + 1
    nfc2, nfd2 = "Jos\u00e9-%d" % tagn2, "Jose\u0301-%d" % tagn2
    list_award_ids(c, 4, nfd2)
    list_award_ids(c, 5, nfc2)
    r, _ = c.call(6, "Issue", issue(nfc2, "fz-b2", "rq-nfc-%d" % tagn2))
    a, _ = list_award_ids(c, 7, nfd2)
    b, _ = list_award_ids(c, 8, nfc2)
    log("semantic cache", a, b)
    if a:
        anomaly("WRONG_BEHAVIOUR", "semantic:equiv_customer_cache", "listed for nfd after issuing to nfc: %r" % a)
    if not b:
        anomaly("WRONG_BEHAVIOUR", "semantic:issue_not_listed", "award to %r not listed: %r" % (nfc2.encode(), b))
    # request ids equivalent but different bytes, different customers: must be two awards
    r1, _ = c.call(9, "Issue", issue("cust-eqA-%d" % tagn, "fz-b1", "rq-\u00e9-%d" % tagn))
    r2, _ = c.call(10, "Issue", issue("cust-eqB-%d" % tagn, "fz-b1", "rq-e\u0301-%d" % tagn))
    log("semantic reqid", r1, r2)
    if r2 is None or r2.status != 0 or (r1 and r1.payload == r2.payload):
        anomaly("WRONG_BEHAVIOUR", "semantic:equiv_request_id", "%r / %r" % (r1, r2))
    # same customer, equivalent request ids: should be two distinct awards (not a replay)
    r3, _ = c.call(11, "Issue", issue("cust-eqC-%d" % tagn, "fz-b1", "rq2-\u00e9-%d" % tagn))
    r4, _ = c.call(12, "Issue", issue("cust-eqC-%d" % tagn, "fz-b1", "rq2-e\u0301-%d" % tagn))
    if r3 and r4 and r4.status == 0 and g(parse(r4.payload), 2):
        anomaly("WRONG_BEHAVIOUR", "semantic:equiv_request_id_replay",
                "Issue with request_id %r replayed the award of %r" % ("rq2-e\u0301".encode(), "rq2-\u00e9".encode()))
    # evidence_fields with canonically equivalent keys: both must survive
    r5, _ = c.call(13, "Issue", issue("cust-ev-%d" % tagn, "fz-b1", "rq-ev-%d" % tagn,
                                      fields={"k\u00e9": "nfc", "ke\u0301": "nfd"}))
    if r5 and r5.status == 0:
        aw = parse(g(parse(r5.payload), 1))
        keys = [g(parse(e), 1, b"") for e in aw.get(8, [])]
        log("semantic evidence keys", keys)
        if len(keys) != 2:
            anomaly("WRONG_BEHAVIOUR", "semantic:equiv_map_keys",
                    "evidence_fields {'k\\u00e9','ke\\u0301'} came back with keys %r" % keys,
                    call(13, "Issue", issue("cust-ev", "fz-b1", "rq-ev", fields={"k\u00e9": "nfc", "ke\u0301": "nfd"})))
    else:
        log("semantic evidence refused", r5)
    # event ids equivalent
    e1, _ = c.call(14, "Evaluate", evaluate("ev-\u00e9-%d" % tagn, "cust-evA-%d" % tagn, "purchase"))
    e2, _ = c.call(15, "Evaluate", evaluate("ev-e\u0301-%d" % tagn, "cust-evB-%d" % tagn, "purchase"))
    log("semantic eventid", e1, e2)
    if e2 is None or e2.status != 0:
        anomaly("WRONG_BEHAVIOUR", "semantic:equiv_event_id", "%r / %r" % (e1, e2))
    # labels with canonically equivalent keys
    rl, _ = c.call(17, "PutBadge", put_badge(badge_def("fz-lab-%d" % tagn, name="x",
                                                       labels={"k\u00e9": "nfc", "ke\u0301": "nfd"})))
    if rl and rl.status == 0:
        bd = parse(g(parse(rl.payload), 1))
        labs = [(g(parse(e), 1, b""), g(parse(e), 2, b"")) for e in bd.get(15, [])]
        log("semantic labels", labs)
        if len(labs) != 2:
            anomaly("WRONG_BEHAVIOUR", "semantic:equiv_label_keys", "labels came back as %r" % labs,
                    call(17, "PutBadge", put_badge(badge_def("fz-lab", name="x", labels={"k\u00e9": "nfc", "ke\u0301": "nfd"}))))
    # event_type exact match, EQ exact comparison, criterion keys byte-for-byte
    bid = "fz-uni-%d" % tagn
    crit = criteria([criterion(key="k1", event_type="caf\u00e9", target=5),
                     criterion(key="k2", event_type="eqtest", target=5,
                               conditions=[condition("a", 0, ["\u00e9"])])])
    rp, _ = c.call(18, "PutBadge", put_badge(badge_def(bid, name="x", criteria=crit)))
    log("semantic uni put", rp)
    e1, _ = c.call(19, "Evaluate", evaluate("ev-uni1-%d" % tagn, "cu-uni", "cafe\u0301", dry=1))
    p1 = parse(e1.payload).get(2, []) if e1 and e1.status == 0 else None
    log("semantic event_type nfd", e1, p1)
    if p1:
        anomaly("WRONG_BEHAVIOUR", "semantic:event_type_equiv",
                "criterion event_type 'caf\\u00e9' (NFC) counted an Evaluate of type 'cafe\\u0301' (NFD): %r" % p1,
                call(19, "Evaluate", evaluate("ev-uni1", "cu-uni", "cafe\u0301", dry=1)))
    e2, _ = c.call(20, "Evaluate", evaluate("ev-uni2-%d" % tagn, "cu-uni", "eqtest", attrs={"a": "e\u0301"}, dry=1))
    p2 = parse(e2.payload).get(2, []) if e2 and e2.status == 0 else None
    log("semantic eq nfd", e2, p2)
    if p2:
        anomaly("WRONG_BEHAVIOUR", "semantic:eq_condition_equiv",
                "EQ condition value '\\u00e9' matched attribute value 'e\\u0301': %r" % p2,
                call(20, "Evaluate", evaluate("ev-uni2", "cu-uni", "eqtest", attrs={"a": "e\u0301"}, dry=1)))
    crit2 = criteria([criterion(key="k\u00e9", event_type="kk", target=5), criterion(key="ke\u0301", event_type="kk", target=5)])
    rk, _ = c.call(21, "PutBadge", put_badge(badge_def(bid + "k", name="x", criteria=crit2)))
    log("semantic equiv criterion keys", rk)
    if rk and rk.status == 0:
        ek, _ = c.call(22, "Evaluate", evaluate("ev-uni3-%d" % tagn, "cu-uni", "kk", dry=1))
        log("semantic equiv criterion keys eval", ek, [parse(x) for x in parse(ek.payload).get(2, [])] if ek else None)
    # NUL truncation (documented quirk) - just record
    r6, _ = c.call(16, "Issue", issue("cust-nul-%d\x00tail" % tagn, "fz-b1", "rq-nul-%d" % tagn))
    log("semantic nul", r6, r6 and parse(parse(r6.payload)[1][0]).get(2) if r6 and r6.status == 0 else None)
    c.close()
    health_check("semantic")


# ---------------------------------------------------------------- random mutation phase
def mutate_bytes(b, n=None):
    b = bytearray(b)
    for _ in range(n or rng.choice([1, 1, 1, 2, 3, 8])):
        op = rng.randrange(9)
        if not b:
            b += rng.randbytes(rng.randrange(1, 8))
            continue
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.randrange(256)
        elif op == 2:
            del b[i:i + rng.randrange(1, 8)]
        elif op == 3:
            b[i:i] = rng.randbytes(rng.randrange(1, 8))
        elif op == 4:
            b[i] = rng.choice([0x00, 0x7F, 0x80, 0xFF, 0x01, 0x0A, 0x12])
        elif op == 5:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 16)]
        elif op == 6:
            b = b[:i]
        elif op == 7:
            b[i:i] = varint(rng.choice([0, 1, 127, 128, 2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64 - 1]))
        else:
            b[i:i] = rng.choice([b"\xff\xfe", b"\x00", b"\xc0\x80", b"\xed\xa0\x80", b"\x80" * 11])
    return bytes(b)


def random_case(idx):
    tpls = templates()
    nframes = rng.choice([1, 1, 1, 2, 3, 5])
    frames = []
    for k in range(nframes):
        m, p = rng.choice(tpls)
        cid = rng.choice([idx * 8 + k + 1] * 6 + [0, 1, (1 << 64) - 1, idx * 8 + 1])
        kind = rng.choice([None] * 10 + [1, 2])
        timeout = rng.choice([None] * 6 + [1, 10, 1000, 10 ** 6, (1 << 64) - 1])
        md = rng.choice([None] * 4 + [[("authorization", "Bearer x")], [("k", "\xff")], [("", "")]])
        level = rng.randrange(10)
        if level < 4:
            p = mutate_bytes(p)
            env = request_frame(cid, m, p, kind=kind, timeout=timeout, metadata=md)
        elif level < 7:
            env = mutate_bytes(request_frame(cid, m, p, kind=kind, timeout=timeout, metadata=md))
        else:
            env = request_frame(cid, m, p, kind=kind, timeout=timeout, metadata=md)
        fr = frame(env)
        if level >= 7 and level < 9:
            fr = mutate_bytes(fr)  # may break the length prefix
        frames.append(fr)
    return b"".join(frames), rng.randrange(10)


def model_expect(data):
    """Predict outcome by framing/envelope parsing: returns ('partial'|'conn'|'ok', set of ids expecting a reply)."""
    i = 0
    ids = set()
    while i < len(data):
        if len(data) - i < 4:
            return "partial", ids
        n = struct.unpack(">I", data[i:i + 4])[0]
        if n > 4194304:
            return "conn", ids
        if len(data) - i - 4 < n:
            return "partial", ids
        env = data[i + 4:i + 4 + n]
        i += 4 + n
        try:
            d = env_parse(env)
        except Malformed:
            return "conn", ids
        cid = d.get("cid", 0)
        if cid == 0:
            return "conn", ids
        if d.get("kind", 0) == 1:
            continue
        if cid in ids:
            return "maybe", ids  # dup ids: depends on in-flight timing
        ids.add(cid)
    return "ok", ids


def read_field(b, i):
    """One protobuf field of `b` at `i`, read as badged's envelope decoder does (tags of at most
    five bytes, field number not 0): (field, wire type, value or None, next index)."""
    s = i
    t, i = read_varint(b, i)
    if i - s > 5 or (t >> 3) == 0:
        raise Malformed("tag")
    f, wt = t >> 3, t & 7
    if wt == 0:
        v, i = read_varint(b, i)
    elif wt in (1, 5):
        size = 8 if wt == 1 else 4
        if len(b) - i < size:
            raise Malformed("fixed")
        v = None
        i += size
    elif wt == 2:
        n, i = read_varint(b, i)
        if n > len(b) - i:
            raise Malformed("len")
        v = b[i:i + n]
        i += n
    else:
        raise Malformed("wt")
    return f, wt, v, i


def env_parse(b):
    i = 0
    d = {}
    while i < len(b):
        f, wt, v, i = read_field(b, i)
        if f in (1, 2, 4) and wt != 0 or f in (3, 5, 6) and wt != 2:
            raise Malformed("fieldwt")
        if f == 1:
            d["cid"] = v
        elif f == 2:
            d["kind"] = 1 if v == 1 else 0
        elif f == 5:
            j = 0
            while j < len(v):
                f2, wt2, _, j = read_field(v, j)
                if f2 in (1, 2) and wt2 != 2:
                    raise Malformed("mdwt")
    return d


def fam_random(deadline):
    idx = 0
    while time.monotonic() < deadline:
        idx += 1
        if idx % 3 == 0:
            bump("engine")
            try:
                blob = engine_case(idx)
            except OSError as e:
                anomaly("CONNECT_FAIL", "engine:%d" % idx, repr(e))
                blob = None
            health_check("engine:%d" % idx, blob)
            continue
        data, mode = random_case(idx)
        pred, ids = model_expect(data)
        case = "random:%d" % idx
        bump("random")
        try:
            c = Conn(SRV.sock, timeout=5)
        except OSError as e:
            anomaly("CONNECT_FAIL", case, repr(e), data)
            health_check(case, data)
            continue
        if c.got_preface != PREFACE:
            anomaly("NO_SERVER_PREFACE", case, repr(c.got_preface), data)
        if mode == 0:
            # split into random chunks
            i = 0
            while i < len(data):
                k = rng.randrange(1, 64)
                c.send(data[i:i + k])
                i += k
        elif mode == 1:
            c.send(data[:rng.randrange(len(data) + 1)])  # abrupt close mid-stream
            c.close()
            health_check(case, data)
            continue
        else:
            c.send(data)
        if pred == "partial":
            fr = c.read_until(lambda fs: ids <= {f.call_id for f in fs if f.end} or any(f.call_id == 0 for f in fs), 1.0)
        elif pred == "conn":
            fr = c.read_until(lambda fs: any(f.call_id == 0 for f in fs), 5.0)
        else:
            fr = c.read_until(lambda fs: ids <= {f.call_id for f in fs if f.end} or any(f.call_id == 0 for f in fs), 5.0)
        hist(fr)
        check_statuses(case, fr, data)
        got_end = {f.call_id for f in fr if f.end}
        conn_err = [f for f in fr if f.call_id == 0]
        if pred == "ok":
            if conn_err:
                anomaly("UNEXPECTED_CONN_ERROR", case, repr(conn_err[0]), data)
            elif not ids <= got_end:
                if not SRV.alive():
                    pass  # reported by health_check
                else:
                    anomaly("NO_REPLY", case, "missing %r frames=%r closed=%s" % (ids - got_end, fr, c.closed), data)
        elif pred == "conn":
            if not conn_err:
                # allowed: maybe a preceding frame was already answered; still need the call-0 frame
                if SRV.alive():
                    anomaly("MISSING_CONN_ERROR", case, "frames=%r closed=%s" % (fr, c.closed), data)
            else:
                if not c.wait_closed(3):
                    anomaly("NOT_CLOSED", case, repr(conn_err[0]), data)
        c.close()
        health_check(case, data)
    log("random cases", idx)



# ---------------------------------------------------------------- structured engine fuzz
ENG_TZ = ["", "UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Chatham",
          "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Antarctica/Troll", "Africa/Casablanca"]
ENG_T = [0, 1, 86399999, 86400000, 604800000, 1764201600000, 1768360200000, 253402300799999, 253402300799998,
         253402214400000, 951782400000, 1711846800000, 1711846799999, 1730595600000, 4102444800000]


def rnd_time():
    v = rng.choice(ENG_T)
    if rng.random() < 0.5:
        v += rng.randrange(-3 * 86400000, 3 * 86400000)
    return max(0, min(v, 253402300799999)) if rng.random() < 0.95 else v


def rnd_num():
    return rng.choice([0.0, 1.0, 2.0, 3.0, 0.5, 1e-9, 1e9, 1e300, 5e-324, 7.0, 100.0, 2 ** 53, -1.0, 1e308, 1.7976931348623157e308])


def rnd_criterion(i, types):
    agg = rng.choice([0, 0, 1, 2, 3, 3, 4])
    win = rng.choice([0, 0, 1, 2, 3, 4, 5])
    if agg == 3 and rng.random() < 0.9:
        win = 0
    tod = None
    if rng.random() < 0.3:
        tod = fv(1, rng.choice([0, 1, 300, 1320, 1439, 1440])) + fv(2, rng.choice([0, 1, 300, 1320, 1439, 1440]))
    dow = tuple(rng.sample(range(1, 8), rng.randrange(0, 4))) if rng.random() < 0.3 else ()
    conds = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        op = rng.randrange(8)
        conds.append(condition(rng.choice(["amount", "a", "b", "tier"]), op,
                               [rng.choice(["x", "1", "gold", "2.5", "-0", "nan", "inf", "1e400", ""]) for _ in range(rng.randrange(0, 3))],
                               number=rnd_num()))
    return criterion(key="k%d" % i, event_type=rng.choice(types), conditions=conds, aggregate=agg,
                     attribute=rng.choice([None, "a", "b", "tier", "amount"]) if agg in (1,) else rng.choice(["a", "b", "tier"]),
                     target=rng.choice([1.0, 2.0, 3.0, 0.5, 1e-9, 1e9, 1e300, 5e-324, 7.0, 2 ** 53]),
                     state_value=rng.choice(["gold", "x", "1"]), window=win,
                     window_days=rng.choice([0, 1, 2, 7, 30, 366, 3650, 36500, 100000, 2 ** 31, 2 ** 32 - 1]) if win == 1 or rng.random() < 0.1 else None,
                     streak_unit=rng.choice([None, 0, 1]) if agg == 3 else None, tod=tod, dow=dow, unit=rng.choice([None, "u"]))


def engine_case(idx):
    types = ["t0", "t1", "t2"]
    c = Conn(SRV.sock, timeout=10)
    cid = 0
    frames = []
    nb = rng.randrange(1, 4)
    bids = []
    for b in range(nb):
        bid = "fz-eng%d" % rng.randrange(12)
        bids.append(bid)
        crs = [rnd_criterion(i, types) for i in range(rng.randrange(1, 4))]
        prereq = [rng.choice(["fz-eng%d" % rng.randrange(12), "fz-b2"])] if rng.random() < 0.2 else []
        bd = badge_def(bid, name="E", rank=rng.choice([None, -5, 0, 5, 2 ** 31 - 1, -(2 ** 31)]),
                       repeatable=rng.choice([None, True]), max_per_customer=rng.choice([None, 0, 1, 3]) if rng.random() < 0.5 else None,
                       global_cap=rng.choice([None, 1, 5, 1000]), status=rng.choice([None, None, None, 1]),
                       expires_after=rng.choice([None, None, 1, 86400000, 253402300799999]),
                       valid_until=rng.choice([None, None, 253402300799999]),
                       criteria=criteria(crs, combine=rng.choice([None, 1]), prereqs=prereq, tz=rng.choice(ENG_TZ)))
        cid += 1
        frames.append((cid, call(cid, "PutBadge", put_badge(bd, replace=True), timeout=rng.choice([None, None, 1000]))))
    cust = ["eng-c%d" % rng.randrange(6) for _ in range(2)]
    for e in range(rng.randrange(1, 25)):
        cid += 1
        attrs = {}
        for k in rng.sample(["a", "b", "tier", "amount"], rng.randrange(0, 3)):
            attrs[k] = rng.choice(["x", "1", "gold", "2.5", "1e308", "-1e308", "nan", "inf", "0x10", " 3", "", "1" * 400])
        ev = evaluate("eng-e%d-%d" % (idx, rng.randrange(40)), rng.choice(cust), rng.choice(types), occurred=rnd_time(),
                      tz=rng.choice(ENG_TZ + [None] * 4), amount=rnd_num() if rng.random() < 0.7 else None, attrs=attrs,
                      dry=rng.choice([None, None, 1]))
        frames.append((cid, call(cid, "Evaluate", ev, timeout=rng.choice([None] * 8 + [1, 100]))))
    for cu in cust:
        cid += 1
        frames.append((cid, call(cid, "List", list_req(cu, rng.choice([0, 1, 1000])))))
    if rng.random() < 0.3:
        cid += 1
        frames.append((cid, call(cid, "Revoke", revoke(rng.choice(cust), badge_id=rng.choice(bids), reason="x"))))
    if rng.random() < 0.2:
        cid += 1
        frames.append((cid, call(cid, "DeactivateBadge", fb(1, rng.choice(bids)))))
    if rng.random() < 0.2:
        cid += 1
        frames.append((cid, call(cid, "ExportAwards", export_req(after=max(0, KNOWN["awards"] - 50), chunk=rng.choice([0, 1, 7])))))
    pipelined = rng.random() < 0.5
    blob = b"".join(f for _, f in frames)
    want = {i for i, _ in frames}
    if pipelined:
        c.send(blob)
        fr = c.read_until(lambda fs: want <= {f.call_id for f in fs if f.end} or any(f.call_id == 0 for f in fs), 10)
    else:
        fr = []
        for i, f in frames:
            c.send(f)
            got = c.read_until(lambda fs: any(x.end and x.call_id == i for x in fs), 10)
            fr += got
            if not any(x.end and x.call_id == i for x in got):
                break   # no reply (reported below): do not wait 10 s for each of the rest
    hist(fr)
    check_statuses("engine:%d" % idx, fr, blob)
    got = {f.call_id for f in fr if f.end}
    if not want <= got:
        if SRV.alive():
            anomaly("NO_REPLY", "engine:%d" % idx, "missing %r; frames=%r closed=%s" % (sorted(want - got)[:10], fr[-3:], c.closed), blob)
    if any(f.call_id == 0 for f in fr):
        anomaly("UNEXPECTED_CONN_ERROR", "engine:%d" % idx, repr([f for f in fr if f.call_id == 0]), blob)
    c.close()
    return blob

# ---------------------------------------------------------------- limits server
def fam_limits():
    """A second server with tiny limits and an auth token (the main one waits meanwhile)."""
    global SRV, AUTH_MD
    main_srv = SRV
    known_save = dict(KNOWN)
    SRV = Server(["--max-in-flight", "4", "--max-frame-bytes", "2048", "--max-reply-bytes", "600",
                  "--max-connections", "8", "--auth-token", "s3cret", "--frame-timeout-seconds", "2",
                  "--preface-timeout-seconds", "2"], name="lim")
    AUTH = [("authorization", "Bearer s3cret")]
    c = Conn(SRV.sock)
    r, _ = c.call(1, "PutBadge", put_badge(badge_def("fz-known", name="K", repeatable=True)), metadata=AUTH)
    r, _ = c.call(2, "Issue", issue("KNOWN-cust-zz9", "fz-known", "KNOWN-req-1"), metadata=AUTH)
    c.close()
    KNOWN.update(award_id=g(parse(g(parse(r.payload), 1)), 1), awards=1)
    AUTH_MD = AUTH
    try:
        A = lambda cid, m, p=b"", **kw: call(cid, m, p, metadata=AUTH, **kw)
        run_raw("auth:none", HEALTH(1), expect=("calls", {1: 16}))
        run_raw("auth:wrong", call(1, "Health", metadata=[("authorization", "Bearer s3cre")]), expect=("calls", {1: 16}))
        run_raw("auth:case", call(1, "Health", metadata=[("Authorization", "Bearer s3cret")]), expect=("calls", {1: 16}))
        run_raw("auth:space", call(1, "Health", metadata=[("authorization", "Bearer  s3cret")]), expect=("calls", {1: 16}))
        run_raw("auth:nul", call(1, "Health", metadata=[("authorization", "Bearer s3cret\x00")]), expect=("calls", {1: 16}))
        run_raw("auth:last_wins_bad", call(1, "Health", metadata=AUTH + [("authorization", "x")]), expect=("calls", {1: 16}))
        run_raw("auth:last_wins_good", call(1, "Health", metadata=[("authorization", "x")] + AUTH), expect=("calls", {1: 0}))
        run_raw("auth:ok", A(1, "Health"), expect=("calls", {1: 0}))
        run_raw("auth:unknown_method_noauth", call(1, "Nope"), expect=("calls", {1: 16}))
        run_raw("auth:cancel_noauth", F(request_frame(3, kind=1)) + A(1, "Health"), expect=("calls", {1: 0}))
        # frame size limit 2048
        run_raw("lim:frame_2048", A(1, "Health", fb(15, b"x" * 1900)), expect=("calls", {1: 0}))
        run_raw("lim:frame_2049", F(b"\x00" * 2049), expect="conn_error:frame_too_large")
        # reply limit 600: ListBadges with several badges / Issue with big evidence
        cc = Conn(SRV.sock)
        for i in range(5):
            cc.call(10 + i, "PutBadge", put_badge(badge_def("fz-big%d" % i, name="N" * 150), replace=True), metadata=AUTH)
        cc.close()
        run_raw("lim:reply_too_large_listbadges", A(1, "ListBadges"), expect=("calls", {1: 8}))
        run_raw("lim:reply_too_large_issue", A(1, "Issue", issue("cbig", "fz-known", "rq-big-%d" % SEED, evidence="E" * 1000)),
                expect=("calls", {1: 8}))
        run_raw("lim:reply_too_large_export", A(1, "ExportAwards", export_req(chunk=100)), expect=("calls", {1: {0, 8}}))
        # in-flight limit 4
        n = 40
        data = b"".join(A(i, "Issue", issue("c-lim", "fz-known", "rq-lim-%d-%d" % (SEED, i))) for i in range(1, n + 1))
        fr = run_raw("lim:inflight4", data, expect=("calls", {i: {0, 8} for i in range(1, n + 1)}), read_timeout=15)
        log("lim:inflight4", sorted({(f.status, f.reason) for f in (fr or [])}))
        # connection limit 8: open 8 then a 9th
        conns = [Conn(SRV.sock) for _ in range(8)]
        bump("lim:conn9")
        c9 = Conn(SRV.sock, wait_preface=False)
        pre = c9.read_preface(3)
        fr = c9.read_until(lambda fs: any(f.call_id == 0 for f in fs), 3)
        log("lim:conn9", pre, fr)
        if not fr or fr[0].reason != "too_many_connections":
            anomaly("WRONG_STATUS", "lim:conn9", "expected too_many_connections, got %r %r" % (pre, fr))
        c9.close()
        # a slot must free up after closing
        for cc in conns:
            cc.close()
        time.sleep(0.3)
        health_check("lim:conn9_after_close")
        # flood connections that never send a preface: preface timeout frees slots
        bump("lim:silent_conns")
        silent = [Conn(SRV.sock, preface=None, wait_preface=False) for _ in range(8)]
        time.sleep(3)
        health_check("lim:silent_conns_after_timeout")
        for s in silent:
            s.close()
        # payload-level random against the limited server (auth valid)
        for i in range(150):
            m, p = rng.choice(templates())
            run_raw("lim:randpayload", A(1, m, mutate_bytes(p)), expect=("calls", {1: None}), read_timeout=3)
    finally:
        AUTH_MD = None
        SRV.stop()
        shutil.rmtree(SRV.data, ignore_errors=True)
        SRV = main_srv
        KNOWN.clear()
        KNOWN.update(known_save)


def restart_persistence(case):
    """SIGTERM, restart on the same data dir, check known award and award count survive."""
    global SRV
    bump("persistence")

    def health(when):
        """The parsed Health reply, or None (reported as HEALTH_FAIL)."""
        c = Conn(SRV.sock)
        r, _ = c.call(1, "Health")
        c.close()
        if r is None or r.status != 0:
            anomaly("HEALTH_FAIL", case, "%s: %r" % (when, r))
            return None
        return parse(r.payload)

    h = health("before the restart")
    if h is None:
        return
    rc = SRV.stop()
    log("stop rc", rc)
    if rc not in (0, -signal.SIGTERM):
        anomaly("BAD_EXIT", case, {"rc": rc, "stderr": SRV.stderr_tail()})
    SRV.start(fresh=False)
    h2 = health("after the restart")
    if h2 is None:
        return
    log("persistence", g(h, 5), g(h, 6), "->", g(h2, 5), g(h2, 6))
    if g(h2, 6) != g(h, 6) or g(h2, 5) != g(h, 5):
        anomaly("DATA_LOSS", case, "badges/awards %d/%d before restart, %d/%d after" % (g(h, 5), g(h, 6), g(h2, 5), g(h2, 6)))
    health_check(case)


FAMILIES = [("valid", lambda: fam_valid()), ("preface", lambda: fam_preface()), ("framing", lambda: fam_framing()),
            ("envelope", lambda: fam_envelope()), ("callids", lambda: fam_callids()),
            ("semantics", lambda: fam_semantics()), ("inflight", lambda: fam_inflight()),
            ("payloads", lambda: fam_payloads()),
            ("persist1", lambda: restart_persistence("persist:after_payloads")), ("limits", lambda: fam_limits())]


def run_families(only):
    for name, fn in FAMILIES:
        if only and name not in only:
            continue
        t = time.monotonic()
        log("=== family", name)
        n = len(anomalies)
        try:
            fn()
        except Exception:
            anomaly("FUZZER_ERROR", name, traceback.format_exc())
            if not SRV.alive():
                health_check(name)
        log("=== family", name, "done in %.1fs" % (time.monotonic() - t))
        print("family %-10s %5.1f s, %d anomalies" % (name, time.monotonic() - t, len(anomalies) - n), flush=True)
    if not only or "random" in only:
        deadline = T0 + BUDGET - min(40.0, 0.1 * BUDGET)
        print("random phase until +%.0f s" % (deadline - T0), flush=True)
        n = len(anomalies)
        try:
            fam_random(deadline)
        except Exception:
            anomaly("FUZZER_ERROR", "random", traceback.format_exc())
        print("random     %d cases, %d anomalies" % (counts.get("random", 0) + counts.get("engine", 0),
                                                       len(anomalies) - n), flush=True)
    try:
        restart_persistence("persist:final")
    except Exception:
        anomaly("FUZZER_ERROR", "persist_final", traceback.format_exc())


def main():
    global RUN, BIN, T0, BUDGET, SEED, rng, LOG, ANOM, SRV
    ap = common.parser(__doc__)
    common.add_common_args(ap)
    ap.add_argument("--seconds", type=float, default=120.0, help="total time budget (default 120)")
    ap.add_argument("--only", metavar="FAMILIES",
                    help="comma-separated subset of: %s, random" % ", ".join(n for n, _ in FAMILIES))
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only and only - {n for n, _ in FAMILIES} - {"random"}:
        ap.error("unknown family in --only: %s" % ", ".join(sorted(only - {n for n, _ in FAMILIES} - {"random"})))
    BIN = common.find_badged(args.badged)
    BUDGET = args.seconds
    SEED = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(SEED)
    T0 = time.monotonic()
    RUN = common.Run("badges-fuzz", args)
    ok = False
    try:
        LOG = open(RUN.path("log.txt"), "a")
        ANOM = open(RUN.path("anomalies.jsonl"), "a")
        print("fuzz: badged %s, seed %d, %.0f s; logs in %s" % (BIN, SEED, BUDGET, RUN.dir), flush=True)
        SRV = Server(["--frame-timeout-seconds", "2", "--preface-timeout-seconds", "2"], name="main")
        setup_known(SRV)
        run_families(only)
        rc = SRV.stop()
        if rc not in (0, -signal.SIGTERM):
            anomaly("BAD_EXIT", "final_stop", {"rc": rc, "stderr": SRV.stderr_tail()})
        summary = {"seed": SEED, "elapsed": round(time.monotonic() - T0, 1), "counts": counts,
                   "anomalies": len(anomalies), "final_rc": rc,
                   "status_hist": {"%d/%s" % k: v for k, v in sorted(status_hist.items())}}
        with open(RUN.path("summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        ok = not anomalies
        kinds = {}
        for a in anomalies:
            kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
        print("\nSUMMARY: %s. %d cases in %.0f s against %s (seed %d): %d anomalies%s; final graceful stop "
              "exit status %s. Logs: %s (log.txt, anomalies.jsonl with the bytes sent, summary.json, *.stderr)%s" % (
                  "PASS" if ok else "FAIL", sum(counts.values()), time.monotonic() - T0, BIN, SEED, len(anomalies),
                  (" (" + ", ".join("%s x%d" % kv for kv in sorted(kinds.items())) + ")") if kinds else "",
                  rc, RUN.dir, "" if ok else ". --seed %d repeats most cases" % SEED), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        sys.exit(130)
    finally:
        for f in (LOG, ANOM):
            if f:
                f.close()
        RUN.cleanup(failed=not ok and bool(anomalies))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
