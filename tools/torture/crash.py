#!/usr/bin/env python3
"""Black-box crash-consistency driver for badged: SIGKILL under load, during checkpoints, during recovery.

One badged (journal durability, Unix socket only) runs on a fresh data folder with five badges. Each
cycle pipelines Issue and Evaluate calls over four connections (plus badge replacements and, in the
checkpoint modes, ~256 KiB "bulk" awards so that the journal reaches a checkpoint), records every
acknowledged write, SIGKILLs the server, restarts it on the same folder and verifies:

  * it comes back (a restart that fails or takes over 120 s is a problem; the folder is copied);
  * Health's award count never goes backwards and matches a full ExportAwards (ids unique, ordered);
  * every acknowledged Issue is exported with the same award id, and every award of an acknowledged
    Evaluate is there; no award that was never asked for, none with the wrong customer or badge;
  * acknowledged Evaluates replay (dry run and real) with the same outcome, byte for byte, and
    acknowledged Issues replay with the same award (idempotency survived the crash);
  * for every customer, rule awards x target + current progress equals the events applied (acknowledged,
    or unacknowledged but found applied by a replay): no event counted twice or lost;
  * the replaced badge is at least at the newest acknowledged version.

Modes (--plan, used in turn for the cycles): `random` kills at a random moment 0.2-5 s into the load;
`ckpt` kills while a checkpoint copies the base (journal-base.mdb.tmp exists); `ckpt-after` kills
0-AFTER_MAX s after the checkpoint renamed the new base into place (while it drops old segments);
`recovery` is `random`, then also kills the restarting server once or twice during recovery.
--inject SEGNO instead runs one cycle with the first server under strace, which SIGKILLs it exactly
when it unlinks or renames journal segment SEGNO (a checkpoint dropping it), then verifies as above.
--check-folder DIR only starts badged on DIR and checks it against an acks.jsonl from an earlier run.

Any problem found is printed with "!!! PROBLEM" and makes the exit status 1. A cycle takes 5-15 s
(4 cycles ~30 s, the default 6 ~1 min on 2 cores; the data folder grows to ~1 GB on disk, and a
failing cycle's folder is copied, with `cp --sparse=always`). Not part of tools/test or CI.
"""
import ctypes
import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pb  # noqa: E402

NCUST = 300
BADGES = 5
KILL_SAFETY_S = 40.0   # a checkpoint mode kills after this long even if no checkpoint was seen

# Set by main().
RUN = None
BIN = None
DATA = SOCK = LOGS = CKPT_TMP = None
ARGS = None
rng = random.Random(0)
ackf = report = None
server = None          # the running badged (Popen) or None

problems = []
per_cycle = {}


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    if report:
        report.write(s + "\n")
        report.flush()


MAX_SHOWN = 50         # problems printed per cycle; the rest are only counted


def problem(cycle, what):
    problems.append((cycle, what))
    shown = per_cycle[cycle] = per_cycle.get(cycle, 0) + 1
    if shown <= MAX_SHOWN:
        log("!!! PROBLEM cycle %s: %s" % (cycle, what))
    elif shown == MAX_SHOWN + 1:
        log("!!! PROBLEM cycle %s: more problems, only counted from here" % cycle)


# ------------------------------------------------------------------ server control
def server_argv():
    return [BIN, "--data-dir", DATA, "--socket", SOCK, "--no-tcp", "--event-loop-threads", "1",
            "--log-level", "notice", "--map-size-mb", str(ARGS.map_size_mb)]


def start_server(tag, wrap=()):
    global server
    try:
        os.unlink(SOCK)
    except FileNotFoundError:
        pass
    server = RUN.popen(list(wrap) + server_argv(), "%s/%s.err" % (LOGS, tag))
    return server


def kill_server():
    global server
    if server is None:
        return None
    rc = RUN.kill(server)
    server = None
    return rc


def wait_ready(timeout=120.0):
    """Returns (seconds until Health OK, health dict) or (None, reason)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if server.poll() is not None:
            return None, "server exited rc=%s" % server.returncode
        if os.path.exists(SOCK):
            try:
                c = pb.Conn(SOCK, timeout=2.0)
                r, _ = c.call(1, "Health", b"", timeout_s=5.0)
                c.close()
                if r is not None and r.status == 0:
                    d = pb.parse(r.payload)
                    return time.monotonic() - t0, {"badges": pb.g(d, 5), "awards": pb.g(d, 6)}
            except (OSError, socket.timeout):
                pass
        time.sleep(0.005)
    return None, "timeout"


# ------------------------------------------------------------------ inotify (the exact moment of the base's rename)
_libc = ctypes.CDLL(None, use_errno=True)
IN_MOVED_TO, IN_CREATE = 0x80, 0x100


class Notify:
    def __init__(self, path):
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, "inotify_init1 failed"
        wd = _libc.inotify_add_watch(self.fd, path.encode(), IN_MOVED_TO | IN_CREATE)
        assert wd >= 0, "inotify_add_watch failed"

    def fileno(self):
        return self.fd

    def events(self):
        res = []
        try:
            b = os.read(self.fd, 65536)
        except BlockingIOError:
            return res
        pos = 0
        while pos + 16 <= len(b):
            _, mask, _, ln = struct.unpack_from("iIII", b, pos)
            res.append((mask, b[pos + 16:pos + 16 + ln].rstrip(b"\0").decode()))
            pos += 16 + ln
        return res

    def close(self):
        os.close(self.fd)


# ------------------------------------------------------------------ non-blocking pipelined connections
class AConn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(pb.PREFACE)
        self.s.setblocking(False)
        self.out = bytearray()
        self.buf = bytearray()
        self.pre = False
        self.cid = 0
        self.inflight = {}
        self.dead = False

    def fileno(self):
        return self.s.fileno()

    def submit(self, method, payload, info):
        self.cid += 1
        self.out += pb.frame(pb.request_frame(self.cid, method, payload))
        self.inflight[self.cid] = info
        return self.cid

    def flush(self):
        if not self.out or self.dead:
            return
        try:
            n = self.s.send(self.out)
            del self.out[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.dead = True

    def read(self):
        """Returns a list of (info, Resp)."""
        res = []
        try:
            d = self.s.recv(1 << 22)
            if not d:
                self.dead = True
        except BlockingIOError:
            d = b""
        except OSError:
            self.dead = True
            d = b""
        self.buf += d
        pos = 0
        if not self.pre:
            if len(self.buf) < 8:
                return res
            pos = 8
            self.pre = True
        while len(self.buf) - pos >= 4:
            n = struct.unpack_from(">I", self.buf, pos)[0]
            if len(self.buf) - pos - 4 < n:
                break
            r = pb.Resp(bytes(self.buf[pos + 4:pos + 4 + n]))
            pos += 4 + n
            if r.call_id == 0:
                self.dead = True
                continue
            info = self.inflight.get(r.call_id)
            if info is None:
                continue
            if r.end:
                del self.inflight[r.call_id]
            res.append((info, r))
        del self.buf[:pos]
        return res

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def run_calls(calls, conns=4, depth=128, timeout=120.0):
    """calls: list of (method, payload, key). Returns {key: final Resp} (streams: {key: [Resp, ...]})."""
    cs = [AConn(SOCK) for _ in range(conns)]
    out = {}
    idx = 0
    t0 = time.monotonic()
    pending = 0
    while (idx < len(calls) or pending) and time.monotonic() - t0 < timeout:
        for c in cs:
            while idx < len(calls) and len(c.inflight) < depth and not c.dead:
                m, p, k = calls[idx]
                idx += 1
                c.submit(m, p, k)
            c.flush()
        r, _, _ = select.select(cs, [c for c in cs if c.out], [], 1.0)
        for c in r:
            for k, resp in c.read():
                if isinstance(out.get(k), list):
                    out[k].append(resp)
                else:
                    out[k] = resp if resp.end else [resp]
        pending = sum(len(c.inflight) for c in cs)
        if all(c.dead for c in cs):
            break
    for c in cs:
        c.close()
    return out


# ------------------------------------------------------------------ payloads and decoding
def big_fields(tag):
    # 64 entries x ~4 KiB of random text (the store does not compress)
    return {"k%02d" % i: (tag + ":" + rng.randbytes(2040).hex())[:4096] for i in range(64)}


BIGPOOL = []


def award_of(raw):
    d = pb.parse(raw)
    return {"aid": pb.g(d, 1), "c": pb.g(d, 2, b"").decode(), "b": pb.g(d, 3, b"").decode(),
            "rid": pb.g(d, 9, b"").decode(), "src": pb.g(d, 6), "rev": pb.g(d, 10)}


def eval_canon(payload):
    """An EvaluateResponse as (fields 1 and 2 raw in hex, for byte comparison; replayed; awards; progress)."""
    d = pb.parse(payload)
    canon = b"".join(pb.fb(1, a) for a in d.get(1, [])) + b"".join(pb.fb(2, p) for p in d.get(2, []))
    awards = [award_of(a) for a in d.get(1, [])]
    prog = []
    for p in d.get(2, []):
        pd = pb.parse(p)
        pr = pb.parse(pb.g(pd, 2, b""))
        cur = struct.unpack("<d", struct.pack("<Q", pb.g(pr, 2)))[0] if 2 in pr else 0.0
        prog.append((pb.g(pd, 1, b"").decode(), pb.g(pr, 1, b"").decode(), cur, bool(pb.g(pr, 4))))
    return canon.hex(), bool(pb.g(d, 3)), awards, prog


# ------------------------------------------------------------------ the model of what was sent and acknowledged
state = {
    "issues_sent": {},     # rid -> (customer, badge)
    "issues_acked": {},    # rid -> award id
    "evals_sent": {},      # eid -> (customer, amount)
    "evals_acked": {},     # eid -> (canon hex, [award ids])
    "eval_applied": {},    # eid -> bool, for unacknowledged events once a replay told
    "filler_acked_max": 0,
    "filler_sent": set(),
    "max_awards_seen": 0,
    "bulk_sent": 0,
}
stats = {"acked_issue": 0, "acked_eval": 0, "acked_filler": 0, "acked_bulk": 0}
undetermined_evals = set()
this_cycle_evals = set()
this_cycle_issues = set()
seq = 0
filler_ver = 0
ck_est = 0.15          # running estimate of a checkpoint's duration (s), for the `ckpt` kill delay


def setup_badges():
    c = pb.Conn(SOCK)
    crit1 = pb.criteria([pb.criterion(key="n", event_type="purchase", aggregate=0, target=3.0)])
    crit2 = pb.criteria([pb.criterion(key="big", event_type="purchase", aggregate=0, target=2.0,
                                      conditions=[pb.condition("amount", 5, number=50.0)])])
    defs = [pb.badge_def("rep", "Repeatable", repeatable=True, rank=1),
            pb.badge_def("bulk", "Bulk", repeatable=True, rank=2),
            pb.badge_def("r3", "Three purchases", repeatable=True, rank=3, criteria=crit1),
            pb.badge_def("r2big", "Two big purchases", repeatable=True, rank=4, criteria=crit2),
            pb.badge_def("filler", "Filler", rank=9, status=1, labels={"ver": "0"})]
    assert len(defs) == BADGES
    for cid, d in enumerate(defs, 1):
        r, _ = c.call(cid, "PutBadge", pb.put_badge(d), timeout_s=10)
        assert r is not None and r.status == 0, r
    c.close()


def filler_payload(ver):
    labels = dict(BIGPOOL[ver % len(BIGPOOL)])
    labels["ver"] = str(ver)
    del labels["k00"]
    return pb.put_badge(pb.badge_def("filler", "Filler", rank=9, status=1, labels=labels), replace=True)


# ------------------------------------------------------------------ load + kill
def load_and_kill(cycle, mode, kill_at):
    """Load the server and SIGKILL it. mode: 'random' (at kill_at s), 'ckpt' (during a checkpoint),
    'ckpt-after' (right after a checkpoint's rename), 'inject' (heavy load; strace kills it).
    Returns a dict describing the kill."""
    global seq, filler_ver, ck_est
    heavy = mode != "random"
    conns = [AConn(SOCK) for _ in range(4)]
    fconn = AConn(SOCK)    # badge replacements and bulk awards
    hconn = AConn(SOCK)    # Health polling
    allc = conns + [fconn, hconn]
    t0 = time.monotonic()
    ino = Notify(DATA) if heavy else None
    rename_at = None
    killed_at = None
    kill_deadline = t0 + kill_at if mode == "random" else t0 + KILL_SAFETY_S
    ck_seen = None
    ck_delay = rng.uniform(0.0, 0.9 * ck_est) if mode == "ckpt" else rng.uniform(0.0, ARGS.after_max)
    ck_gone = None
    ck_starts = 0
    last_health = 0
    kill_info = {}
    lines = []
    while True:
        now = time.monotonic()
        if killed_at is None:
            if heavy:   # watch for a checkpoint
                ex = os.path.exists(CKPT_TMP)
                if ex and ck_seen is None:
                    ck_seen = now
                    ck_starts += 1
                if mode == "ckpt" and ck_seen is not None and now >= ck_seen + ck_delay:
                    kill_deadline = now
                if mode == "ckpt-after" and ck_gone is None and (rename_at is not None or (ck_seen and not ex)):
                    ck_gone = rename_at or now
                    ck_est = max(0.02, now - ck_seen) if ck_seen else ck_est
                if mode == "ckpt-after" and ck_gone is not None and now >= ck_gone + ck_delay:
                    kill_deadline = now
            if now >= kill_deadline:
                os.killpg(server.pid, signal.SIGKILL)   # the group: with --inject, strace and badged
                kill_info = {"t": round(now - t0, 3), "ckpt_tmp_exists": os.path.exists(CKPT_TMP),
                             "files": sorted(os.listdir(DATA)),
                             "since_rename_ms": round((time.monotonic() - rename_at) * 1000, 2) if rename_at else None}
                killed_at = now
            else:
                # top up the calls in flight
                for c in conns:
                    while len(c.inflight) < (ARGS.depth if heavy else 48) and not c.dead:
                        seq += 1
                        cust = "cust-%03d" % rng.randrange(NCUST)
                        if rng.random() < 0.5:
                            rid = "i-%d" % seq
                            state["issues_sent"][rid] = (cust, "rep")
                            c.submit("Issue", pb.issue(cust, "rep", rid, evidence="e%d" % seq), ("issue", rid))
                        else:
                            eid = "e-%d" % seq
                            amt = float(rng.randrange(1, 101))
                            state["evals_sent"][eid] = (cust, amt)
                            c.submit("Evaluate", pb.evaluate(eid, cust, "purchase", amount=amt), ("eval", eid))
                    c.flush()
                while len(fconn.inflight) < (6 if heavy else 1) and not fconn.dead:
                    if heavy and state["bulk_sent"] < ARGS.bulk_target and rng.random() < 0.5:
                        state["bulk_sent"] += 1
                        seq += 1
                        rid = "bulk-%d" % seq
                        cust = "cust-%03d" % rng.randrange(NCUST)
                        state["issues_sent"][rid] = (cust, "bulk")
                        fconn.submit("Issue", pb.issue(cust, "bulk", rid, fields=BIGPOOL[seq % len(BIGPOOL)]),
                                     ("issue", rid))
                    else:
                        filler_ver += 1
                        state["filler_sent"].add(filler_ver)
                        fconn.submit("PutBadge", filler_payload(filler_ver), ("filler", filler_ver))
                fconn.flush()
                if now - last_health > 0.05 and not hconn.inflight and not hconn.dead:
                    last_health = now
                    hconn.submit("Health", b"", ("health", 0))
                    hconn.flush()
        elif now - killed_at > 1.0 or all(c.dead for c in allc):
            break
        live = [c for c in allc if not c.dead]
        if not live:
            if killed_at is None:   # the server died without our SIGKILL
                kill_info = {"t": round(now - t0, 3), "died_by_itself": True, "files": sorted(os.listdir(DATA))}
                killed_at = now
                continue
            break
        r, w, _ = select.select(live + ([ino] if ino and killed_at is None else []), [c for c in live if c.out], [], 0.002)
        if ino is not None and ino in r:
            r.remove(ino)
            tnow = time.monotonic()
            for mask, name in ino.events():
                if name == "journal-base.mdb.tmp" and ck_seen is None:
                    ck_seen = tnow
                    ck_starts += 1
                if name == "journal-base.mdb" and mask & IN_MOVED_TO and rename_at is None and ck_seen is not None:
                    rename_at = tnow
        for c in w:
            c.flush()
        for c in r:
            for info, resp in c.read():
                kind, key = info
                if resp.status != 0:
                    continue
                if kind == "issue":
                    d = pb.parse(resp.payload)
                    a = award_of(pb.g(d, 1, b""))
                    rep = bool(pb.g(d, 2))
                    cust, badge = state["issues_sent"][key]
                    if rep or a["rid"] != key or a["c"] != cust or a["b"] != badge:
                        problem(cycle, "bad Issue reply during load for %s: %r replayed=%s" % (key, a, rep))
                    state["issues_acked"][key] = a["aid"]
                    stats["acked_bulk" if badge == "bulk" else "acked_issue"] += 1
                    lines.append(json.dumps({"t": "issue", "rid": key, "c": cust, "b": badge, "aid": a["aid"]}))
                elif kind == "eval":
                    canon, rep, awards, _ = eval_canon(resp.payload)
                    if rep:
                        problem(cycle, "fresh Evaluate %s answered replayed" % key)
                    state["evals_acked"][key] = (canon, [a["aid"] for a in awards])
                    stats["acked_eval"] += 1
                    lines.append(json.dumps({"t": "eval", "eid": key, "c": state["evals_sent"][key][0],
                                             "canon": canon, "aids": [a["aid"] for a in awards]}))
                elif kind == "filler":
                    state["filler_acked_max"] = max(state["filler_acked_max"], key)
                    stats["acked_filler"] += 1
                    lines.append(json.dumps({"t": "filler", "v": key}))
                elif kind == "health":
                    state["max_awards_seen"] = max(state["max_awards_seen"], pb.g(pb.parse(resp.payload), 6))
        if lines:
            ackf.write("\n".join(lines) + "\n")
            ackf.flush()
            lines = []
    for c in allc:
        c.close()
    if ino is not None:
        ino.close()
    kill_info.update(ckpt_starts_seen=ck_starts, ck_seen_at=round(ck_seen - t0, 3) if ck_seen else None,
                     ck_delay=round(ck_delay, 3), ck_est=round(ck_est, 3))
    return kill_info


# ------------------------------------------------------------------ verification
def export_awards():
    """All awards via ExportAwards, or None if the export failed."""
    frames = run_calls([("ExportAwards", pb.export_req(0, 4096), "x")], conns=1, timeout=300).get("x")
    if isinstance(frames, pb.Resp):
        frames = [frames]
    if not frames or not frames[-1].end or frames[-1].status != 0:
        return None, frames[-1] if frames else None
    awards = []
    for f in frames:
        if f.payload:
            awards += [award_of(a) for a in pb.parse(f.payload).get(1, [])]
    return awards, None


def verify(cycle, health):
    t0 = time.monotonic()
    if health["awards"] < state["max_awards_seen"]:
        problem(cycle, "Health awards went backwards: %d < %d seen before" % (health["awards"], state["max_awards_seen"]))
    if health["badges"] != BADGES:
        problem(cycle, "Health badges = %d, expected %d" % (health["badges"], BADGES))
    # --- full export
    awards, err = export_awards()
    if awards is None:
        problem(cycle, "ExportAwards failed: %r" % err)
        return None
    aids = [a["aid"] for a in awards]
    if len(set(aids)) != len(aids):
        problem(cycle, "duplicate award ids in export")
    if aids != sorted(aids):
        problem(cycle, "export not in award id order")
    if len(awards) != health["awards"]:
        problem(cycle, "export has %d awards, Health says %d" % (len(awards), health["awards"]))
    byrid = {}
    for a in awards:
        if a["rid"] in byrid:
            problem(cycle, "request id %s stored twice: %r and %r" % (a["rid"], byrid[a["rid"]], a))
        byrid[a["rid"]] = a
    if len(awards) < state["max_awards_seen"]:
        problem(cycle, "export count %d below Health count seen before %d" % (len(awards), state["max_awards_seen"]))
    state["max_awards_seen"] = max(state["max_awards_seen"], len(awards), health["awards"])
    # --- unknown awards / mismatches
    for a in awards:
        rid = a["rid"]
        if rid.startswith("event:"):
            _, eid, _ = rid.split(":")
            if eid not in state["evals_sent"]:
                problem(cycle, "award for unknown event %r" % a)
            elif state["evals_sent"][eid][0] != a["c"]:
                problem(cycle, "rule award with wrong customer %r" % a)
        else:
            s = state["issues_sent"].get(rid)
            if s is None:
                problem(cycle, "award with unknown request id %r" % a)
            elif s != (a["c"], a["b"]):
                problem(cycle, "award %r does not match request %r" % (a, s))
        if a["rev"]:
            problem(cycle, "award revoked?! %r" % a)
    # --- every acknowledged Issue present with the same award id
    lost = 0
    for rid, aid in state["issues_acked"].items():
        a = byrid.get(rid)
        if a is None or a["aid"] != aid:
            lost += 1
            if lost <= 20:
                problem(cycle, "acknowledged Issue %s (award %d) lost/changed: now %r" % (rid, aid, a))
    if lost > 20:
        problem(cycle, "... %d acknowledged Issues lost in total" % lost)
    # --- every acknowledged Evaluate's awards present
    lostev = 0
    aidset = {a["aid"]: a for a in awards}
    for eid, (_, eaids) in state["evals_acked"].items():
        for aid in eaids:
            a = aidset.get(aid)
            if a is None or not a["rid"].startswith("event:%s:" % eid):
                lostev += 1
                if lostev <= 20:
                    problem(cycle, "award %d of acknowledged Evaluate %s missing/changed: %r" % (aid, eid, a))
    # --- replays: dry runs (read only) of this cycle's acknowledged events and a sample of older ones;
    #     dry runs of every unacknowledged event, to learn whether it was applied; one dry-run probe per
    #     customer for its progress; real replays of a sample of this cycle's Evaluates and Issues.
    calls = []
    recent = [e for e in state["evals_acked"] if e in this_cycle_evals]
    older = [e for e in state["evals_acked"] if e not in this_cycle_evals]
    for eid in recent + rng.sample(older, min(len(older), 1000)):
        c, amt = state["evals_sent"][eid]
        calls.append(("Evaluate", pb.evaluate(eid, c, "purchase", amount=amt, dry=True), ("acked", eid)))
    for eid in list(undetermined_evals):
        c, amt = state["evals_sent"][eid]
        calls.append(("Evaluate", pb.evaluate(eid, c, "purchase", amount=amt, dry=True), ("unacked", eid)))
    for i in range(NCUST):
        cust = "cust-%03d" % i
        calls.append(("Evaluate", pb.evaluate("probe-%d-%d" % (cycle, i), cust, "purchase", amount=100.0,
                                              dry=True), ("probe", cust)))
    for eid in rng.sample(recent, min(len(recent), 200)):
        c, amt = state["evals_sent"][eid]
        calls.append(("Evaluate", pb.evaluate(eid, c, "purchase", amount=amt), ("acked-real", eid)))
    recent_iss = [r for r in this_cycle_issues if r in state["issues_acked"]]
    for rid in rng.sample(sorted(recent_iss), min(len(recent_iss), 300)):
        c, b = state["issues_sent"][rid]
        calls.append(("Issue", pb.issue(c, b, rid), ("issue-replay", rid)))
    res = run_calls(calls, conns=4, depth=256, timeout=300)
    if len(res) != len(calls):
        problem(cycle, "verification calls unanswered: %d of %d" % (len(calls) - len(res), len(calls)))
    nrep = 0
    probes = {}
    for (kind, key), r in res.items():
        if isinstance(r, list):
            r = r[-1]
        if r.status != 0:
            problem(cycle, "verification call %s %s failed: %r" % (kind, key, r))
            continue
        if kind in ("acked", "acked-real"):
            canon, rep, _, _ = eval_canon(r.payload)
            nrep += 1
            if not rep:
                problem(cycle, "acknowledged Evaluate %s not replayed after restart (%s)" % (key, kind))
            elif canon != state["evals_acked"][key][0]:
                problem(cycle, "acknowledged Evaluate %s replayed with a different outcome" % key)
        elif kind == "unacked":
            _, rep, awds, _ = eval_canon(r.payload)
            state["eval_applied"][key] = rep
            undetermined_evals.discard(key)
            for a in awds if rep else ():
                if a["aid"] not in aidset:
                    problem(cycle, "unacknowledged-but-applied Evaluate %s: its award %d missing" % (key, a["aid"]))
        elif kind == "issue-replay":
            d = pb.parse(r.payload)
            a = award_of(pb.g(d, 1, b""))
            nrep += 1
            if not pb.g(d, 2) or a["aid"] != state["issues_acked"][key]:
                problem(cycle, "re-Issue of acknowledged %s: replayed=%s aid=%d (acked %d)" % (
                    key, bool(pb.g(d, 2)), a["aid"], state["issues_acked"][key]))
        elif kind == "probe":
            probes[key] = {(b, k): cur for (b, k, cur, _) in eval_canon(r.payload)[3]}
    # --- per customer: rule awards x target + progress == events applied (probe adds 1 to each)
    applied = {}
    for eid, (c, amt) in state["evals_sent"].items():
        if eid in state["evals_acked"] or state["eval_applied"].get(eid):
            n = applied.setdefault(c, [0, 0])
            n[0] += 1
            if amt >= 50:
                n[1] += 1
    rule = {}
    for a in awards:
        if a["b"] in ("r3", "r2big"):
            rule[(a["c"], a["b"])] = rule.get((a["c"], a["b"]), 0) + 1
    bad = 0
    for i in range(NCUST):
        cust = "cust-%03d" % i
        n_all, n_big = applied.get(cust, [0, 0])
        p = probes.get(cust, {})
        lhs3 = rule.get((cust, "r3"), 0) * 3 + p.get(("r3", "n"), 1.0) - 1
        lhs2 = rule.get((cust, "r2big"), 0) * 2 + p.get(("r2big", "big"), 1.0) - 1
        if lhs3 != n_all or lhs2 != n_big:
            bad += 1
            if bad <= 10:
                problem(cycle, "progress mismatch for %s: r3 awards*3+progress=%s vs applied events %d; "
                        "r2big awards*2+progress=%s vs applied big events %d" % (cust, lhs3, n_all, lhs2, n_big))
    # --- the replaced badge: its puts are serialized on one connection, so the stored one is at least
    #     the newest acknowledged
    c = pb.Conn(SOCK)
    r, _ = c.call(1, "GetBadge", pb.fb(1, "filler"), timeout_s=10)
    c.close()
    if r is None or r.status != 0:
        problem(cycle, "GetBadge filler failed %r" % r)
    else:
        bd = pb.parse(pb.g(pb.parse(r.payload), 1, b""))
        labels = {}
        for e in bd.get(15, []):
            ed = pb.parse(e)
            labels[pb.g(ed, 1, b"").decode()] = pb.g(ed, 2, b"").decode()
        v = int(labels.get("ver", "-1"))
        if v < state["filler_acked_max"] or (v not in state["filler_sent"] and v != 0):
            problem(cycle, "filler badge at version %d, acknowledged up to %d" % (v, state["filler_acked_max"]))
    return {"awards": len(awards), "replays_checked": nrep, "secs": round(time.monotonic() - t0, 2),
            "unacked_evals_applied": sum(1 for v in state["eval_applied"].values() if v)}


def du(path):
    tot = 0
    for f in os.listdir(path):
        try:
            tot += os.stat(os.path.join(path, f)).st_blocks * 512
        except FileNotFoundError:
            pass
    return tot


def copy_folder(suffix):
    dst = "%s-%s" % (DATA, suffix)
    subprocess.run(["cp", "-a", "--sparse=always", DATA, dst], check=False)   # data.mdb is a sparse 4 GiB map
    log("   data folder copied to %s" % dst)


# ------------------------------------------------------------------ the run
def crash_cycles(plan):
    global this_cycle_evals, this_cycle_issues
    os.makedirs(DATA, exist_ok=True)
    wrap = ()
    if ARGS.inject is not None:
        # The first server runs under strace, which SIGKILLs it on the when-th unlink/rename of that segment.
        seg = "%s/journal-%016x.log" % (DATA, ARGS.inject)
        sc = "unlink,unlinkat,rename,renameat,renameat2"
        wrap = ["strace", "-f", "-qq", "-o", RUN.path("strace.txt"), "-P", seg, "-e", "trace=" + sc,
                "-e", "inject=%s:signal=KILL:when=%d" % (sc, ARGS.inject_when)]
        log("injecting: SIGKILL at the %d. unlink/rename of %s (strace log: %s)" % (
            ARGS.inject_when, os.path.basename(seg), RUN.path("strace.txt")))
    start_server("c000-initial", wrap)
    t, h = wait_ready()
    if t is None:
        problem(0, "initial start failed: %s; see %s/c000-initial.err" % (h, LOGS))
        return
    setup_badges()
    log("initial start %.3fs, setup done" % t)
    for i, mode in enumerate(plan, 1):
        ev_before = set(state["evals_sent"])
        is_before = set(state["issues_sent"])
        a0 = dict(stats)
        info = load_and_kill(i, "random" if mode == "recovery" else mode, rng.uniform(0.2, 5.0))
        rc = kill_server()
        this_cycle_evals = set(state["evals_sent"]) - ev_before
        this_cycle_issues = set(state["issues_sent"]) - is_before
        undetermined_evals.update(e for e in this_cycle_evals if e not in state["evals_acked"])
        acked = {k: stats[k] - a0[k] for k in stats}
        log("cycle %d mode=%s kill=%ss rc=%s acked=%s size=%.0fMB" % (
            i, mode, info.get("t"), rc, acked, du(DATA) / 1e6))
        if mode not in ("random", "recovery"):
            log("   checkpoint: tmp at kill=%s, starts seen=%s, first at %s s, kill delay %s s (estimate %s s), "
                "killed %s ms after the base's rename" % tuple("-" if info.get(k) is None else info[k] for k in (
                    "ckpt_tmp_exists", "ckpt_starts_seen", "ck_seen_at", "ck_delay", "ck_est", "since_rename_ms")))
        log("   files at kill: %s" % " ".join(info.get("files", [])))
        if mode == "inject":
            if info.get("died_by_itself"):
                log("   the injected SIGKILL fired")
            else:
                problem(i, "the injected SIGKILL never fired (segment %d not removed within %.0f s): nothing tested"
                        % (ARGS.inject, KILL_SAFETY_S))
        elif info.get("died_by_itself"):
            problem(i, "server died without being killed; see %s/c%03d*.err" % (LOGS, i - 1))
        elif mode.startswith("ckpt") and not info.get("ckpt_starts_seen"):
            log("   (no checkpoint seen before the %.0f s safety kill)" % KILL_SAFETY_S)
        tag = "c%03d" % i
        if mode == "recovery":
            for k in range(rng.choice([1, 2])):
                delay = rng.uniform(0.0, 1.5)
                start_server("%s-recovkill%d" % (tag, k))
                time.sleep(delay)
                sock_up = os.path.exists(SOCK)
                exited = server.poll()
                rc2 = kill_server()
                log("   killed during recovery after %.3fs (socket up: %s, exited early: %s, rc=%s)" % (
                    delay, sock_up, exited, rc2))
                if exited is not None:
                    problem(i, "server exited by itself during recovery (rc=%s); see %s/%s-recovkill%d.err" % (
                        exited, LOGS, tag, k))
        start_server(tag)
        secs, h = wait_ready()
        if secs is None:
            problem(i, "restart failed: %s; see %s/%s.err" % (h, LOGS, tag))
            kill_server()
            copy_folder("failed-cycle%d" % i)
            break
        v = verify(i, h)
        log("   restart ok in %.3fs health=%s verify=%s" % (secs, h, v))
        if any(p[0] == i for p in problems):
            copy_folder("cycle%d" % i)
    kill_server()


def check_folder(folder, acks):
    """Start badged on folder and check every acknowledged write in acks (an earlier run's acks.jsonl)."""
    global DATA
    DATA = folder
    start_server("check-folder")
    t, h = wait_ready()
    if t is None:
        problem("check", "badged did not start on %s: %s; see %s/check-folder.err" % (folder, h, LOGS))
        return
    log("started in %.3fs, health %s" % (t, h))
    awards, err = export_awards()
    kill_server()
    if awards is None:
        problem("check", "ExportAwards failed: %r" % err)
        return
    byrid = {a["rid"]: a["aid"] for a in awards}
    allaids = set(byrid.values())
    iss, evs = {}, {}
    with open(acks) as f:
        for line in f:
            d = json.loads(line)
            if d["t"] == "issue":
                iss[d["rid"]] = d["aid"]
            elif d["t"] == "eval":
                evs[d["eid"]] = d["aids"]
    missing = [r for r, a in iss.items() if byrid.get(r) != a]
    mev = [(e, a) for e, l in evs.items() for a in l if a not in allaids]
    log("awards %d, acknowledged Issues %d (missing %d), acknowledged Evaluates %d (awards missing %d)" % (
        len(awards), len(iss), len(missing), len(evs), len(mev)))
    for r in missing[:20]:
        problem("check", "acknowledged Issue %s (award %d) missing or changed" % (r, iss[r]))
    for e, a in mev[:20]:
        problem("check", "award %d of acknowledged Evaluate %s missing" % (a, e))


def main():
    global RUN, BIN, DATA, SOCK, LOGS, CKPT_TMP, ARGS, rng, ackf, report
    ap = common.parser(__doc__)
    common.add_common_args(ap)
    ap.add_argument("--cycles", type=int, default=6, help="kill/restart/verify cycles (default 6)")
    ap.add_argument("--plan", default="random,ckpt,random,ckpt-after,ckpt,recovery",
                    help="comma-separated modes used in turn, from random, ckpt, ckpt-after, recovery "
                         "(default: %(default)s)")
    ap.add_argument("--after-max", type=float, default=0.020, metavar="S",
                    help="ckpt-after: kill up to S seconds after the base's rename (default 0.020)")
    ap.add_argument("--bulk-target", type=int, default=600, metavar="N",
                    help="bulk awards (~256 KiB each) sent in checkpoint modes over the run (default 600)")
    ap.add_argument("--map-size-mb", type=int, default=4096, metavar="MIB",
                    help="badged's first map size (default 4096); a small one makes the map grow under the load")
    ap.add_argument("--depth", type=int, default=48, help="calls in flight per connection under heavy load (default 48)")
    ap.add_argument("--inject", type=int, metavar="SEGNO",
                    help="one cycle: strace SIGKILLs the server as it unlinks/renames journal segment SEGNO "
                         "(needs strace; try 1-14)")
    ap.add_argument("--inject-when", type=int, default=1, metavar="N",
                    help="--inject: kill at the N-th matching syscall on that path (default 1)")
    ap.add_argument("--check-folder", metavar="DIR",
                    help="only start badged on DIR (it may be recovered in place: use a copy) and check it "
                         "against --acks")
    ap.add_argument("--acks", metavar="FILE", help="--check-folder: the acks.jsonl of the run that made DIR")
    args = ap.parse_args()
    ARGS = args
    modes = args.plan.split(",")
    if set(modes) - {"random", "ckpt", "ckpt-after", "recovery"}:
        ap.error("unknown mode in --plan: %s" % args.plan)
    if args.check_folder and not args.acks:
        ap.error("--check-folder needs --acks")
    if args.inject is not None and not shutil.which("strace"):
        ap.error("--inject needs strace (apt-get install strace)")
    if args.inject is not None:
        plan = ["inject"]
    else:
        plan = [modes[(i - 1) % len(modes)] for i in range(1, args.cycles + 1)]
    BIN = common.find_badged(args.badged)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    BIGPOOL[:] = [big_fields("p%d" % i) for i in range(8)]
    RUN = common.Run("badges-crash", args)
    DATA = RUN.path("data")
    SOCK = RUN.path("b.sock")
    LOGS = RUN.path("logs")
    CKPT_TMP = DATA + "/journal-base.mdb.tmp"
    os.makedirs(LOGS, exist_ok=True)
    t0 = time.monotonic()
    interrupted = False
    try:
        report = open(RUN.path("report.txt"), "a")
        ackf = open(RUN.path("acks.jsonl"), "a")
        log("crash: badged %s, seed %d, plan %s; work folder %s (report.txt, acks.jsonl, logs/*.err)" % (
            BIN, seed, ",".join(plan) if not args.check_folder else "check-folder", RUN.dir))
        if args.check_folder:
            check_folder(os.path.abspath(args.check_folder), args.acks)
        else:
            crash_cycles(plan)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted")
    finally:
        kill_server()
        if not interrupted:
            if args.check_folder:
                what = "checked %s against %s" % (args.check_folder, args.acks)
            else:
                what = ("%d kill cycles (%s), %d issues, %d evaluates, %d bulk awards and %d badge replacements "
                        "acknowledged in all" % (len(plan), ",".join(plan), stats["acked_issue"], stats["acked_eval"],
                                                 stats["acked_bulk"], stats["acked_filler"]))
            log("\nSUMMARY: %s. %s, with %s in %.0f s (seed %d): %d problems%s. Logs: %s (report.txt, acks.jsonl, "
                "logs/*.err)." % ("PASS" if not problems else "FAIL", what, BIN, time.monotonic() - t0, seed,
                                  len(problems), " (first: cycle %s: %s)" % problems[0] if problems else "", RUN.dir))
        for f in (ackf, report):
            if f:
                f.close()
        RUN.cleanup(failed=bool(problems))
    sys.exit(130 if interrupted else 1 if problems else 0)


if __name__ == "__main__":
    main()
