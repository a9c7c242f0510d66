"""Plumbing shared by fuzz.py and crash.py: finding badged, the work folder, the servers they start.

Every badged is started in its own process group and registered here; `cleanup()` (run from the
scripts' `finally`, and on SIGTERM/SIGHUP, which are turned into SystemExit) SIGKILLs every group
still alive, so no server outlives the script, whatever way it ends.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def add_common_args(ap):
    ap.add_argument("--badged", metavar="PATH",
                    help="badged binary (default: $BADGED, else .build-bench/release/badged under the "
                         "repository, else .build/release/badged)")
    ap.add_argument("--work-dir", metavar="DIR",
                    help="folder for data, sockets, logs (default: a fresh mktemp -d under /var/tmp)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work folder (it is also kept when a problem was found)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: chosen and printed)")


def find_badged(arg):
    if arg:
        cands = [arg]
    elif os.environ.get("BADGED"):
        cands = [os.environ["BADGED"]]
    else:
        cands = [os.path.join(REPO, ".build-bench", "release", "badged"),
                 os.path.join(REPO, ".build", "release", "badged")]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    sys.exit("badged not found (tried %s); build it with `swift build -c release --scratch-path .build-bench` "
             "or pass --badged PATH" % ", ".join(cands))


class Run:
    """The work folder of one run and the servers started in it."""

    def __init__(self, prefix, args):
        self.created = args.work_dir is None
        if args.work_dir:
            os.makedirs(args.work_dir, exist_ok=True)
            self.dir = os.path.abspath(args.work_dir)
        else:
            self.dir = tempfile.mkdtemp(prefix=prefix + ".", dir="/var/tmp")
        if len(os.path.join(self.dir, "xxxxxxxxxx.sock")) > 100:
            sys.exit("work folder path too long for a Unix socket: %s" % self.dir)
        self.keep = args.keep
        self.procs = []
        signal.signal(signal.SIGTERM, _exit_on_signal)
        signal.signal(signal.SIGHUP, _exit_on_signal)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def popen(self, argv, log_path):
        """Start a server (its own process group, stdout+stderr appended to log_path)."""
        err = open(log_path, "ab")
        p = subprocess.Popen(argv, stdout=err, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        p.log_file = err
        self.procs.append(p)
        return p

    def kill(self, p, sig=signal.SIGKILL):
        """Signal p's process group; for SIGKILL also reap it. Returns the exit status (or None)."""
        if p.returncode is None:   # not reaped yet, so its process group id cannot have been reused
            try:
                os.killpg(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        if sig == signal.SIGKILL:
            rc = p.wait()
            self.forget(p)
            return rc
        return None

    def forget(self, p):
        if not p.log_file.closed:
            p.log_file.close()
        if p in self.procs:
            self.procs.remove(p)

    def cleanup(self, failed):
        for p in list(self.procs):
            self.kill(p)
        if self.keep or failed:
            print("work folder kept: %s" % self.dir, flush=True)
        elif self.created:
            shutil.rmtree(self.dir, ignore_errors=True)
            print("work folder removed (--keep keeps it)", flush=True)
        else:
            print("work folder (given with --work-dir) left in place: %s" % self.dir, flush=True)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def parser(doc):
    return argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog="\n\n".join(doc.split("\n\n")[1:]),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
