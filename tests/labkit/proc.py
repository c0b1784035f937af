"""Errors, waits, commands and child processes: what every lab and lab test uses.

Every wait is a bounded poll on a condition that fails with a message saying what it waited for;
every child a lab starts runs in its own session (Ctrl-C reaches only the test) and gets SIGTERM
from the kernel when the test's process dies, however it dies (PR_SET_PDEATHSIG).
"""

import importlib.machinery
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class LabError(Exception):
    """A step of a lab failed; the message says which and why."""


class ProcessDied(LabError):
    """A process the lab waits on has exited: no retry makes it answer."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so that every `finally` runs."""


def on_signals_unwind():
    """SIGTERM (meson's timeout) and SIGHUP unwind the stack like Ctrl-C, so teardown runs."""

    def handler(signum, _frame):
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def begin_test(nargs, usage, skip_reason):
    """The start of a lab test's main(): its exit code where it must not go on, 2 (and `usage`)
    where the command line has not `nargs` arguments (a number, or a tuple of those allowed), 77
    (meson's skip) where skip_reason() says why the lab cannot run here; else None, with SIGTERM
    and SIGHUP set to unwind (on_signals_unwind)."""
    if len(sys.argv) - 1 not in (nargs if isinstance(nargs, tuple) else (nargs,)):
        print(usage, file=sys.stderr)
        return 2
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    return None


def verdict(figures, failures):
    """Prints a test's figures and its verdict; the exit code."""
    print("figures: " + json.dumps(figures, sort_keys=True))
    if failures:
        print(f"FAILED: {len(failures)} check(s)")
        return 1
    print("PASS")
    return 0


def exit_with(main):
    """A test script's entry point: main()'s exit code; 1 when a signal or a lab step ends it."""
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"interrupted: {e}")
        sys.exit(1)
    except (LabError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)


def check(cond, msg, failures):
    """One line of a test's report; a failed check is kept in `failures`. Returns cond."""
    print(("  ok    " if cond else "  FAIL  ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def wait_for(what, predicate, timeout, interval=0.05, retry=False):
    """Polls `predicate` until it returns something true; LabError after `timeout` seconds.
    With retry, a LabError from the predicate counts as "not yet" (and is quoted if time runs
    out), except ProcessDied, which ends the wait at once."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
        except ProcessDied:
            raise
        except LabError as e:
            if not retry:
                raise
            value, last_error = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f" (last: {last_error})" if last_error else ""
            raise LabError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def run(cmd, check=True, timeout=60, capture=True, env=None, stdin=None):
    """Runs a command to completion; LabError with its output when it fails."""
    try:
        r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, env=env,
                           input=stdin)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(cmd)}: no result after {timeout} s") from e
    if check and r.returncode != 0:
        out = ((r.stdout or "") + (r.stderr or "")).strip()
        raise LabError(f"{' '.join(cmd)}: exit {r.returncode}: {out}")
    return r


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the lab's process dies, however it dies (espgw
    stops cleanly on SIGTERM; its taps go with it)."""
    import ctypes  # noqa: PLC0415 - only in the child, between fork and exec

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(cmd, log=None, env=None, pipe=False):
    """A child in its own session that dies with us: output appended to `log` (a path), or
    piped (text) with pipe=True, or discarded."""
    common = {"stdin": subprocess.DEVNULL, "env": env, "start_new_session": True,
              "preexec_fn": die_with_parent}
    if pipe:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                **common)
    if log is None:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                **common)
    with open(log, "a") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **common)


def alive_or_raise(proc, what, log_tail=""):
    """ProcessDied (with the log's tail) unless proc is running."""
    if proc is None or proc.poll() is not None:
        code = proc.returncode if proc is not None else None
        raise ProcessDied(f"{what} is not running (exit {code})"
                          + (f"; its log:\n{log_tail}" if log_tail else ""))


def stop_process(proc, sig=signal.SIGTERM, timeout=30, ask=None):
    """Stops proc (a Popen, or None): ask() if given (a polite request that may raise), else
    `sig`; SIGKILL after `timeout` s. Returns its exit code (None when it had to be killed or
    there was no process)."""
    if proc is None:
        return None
    if proc.poll() is None:
        asked = False
        if ask is not None:
            try:
                ask()
                asked = True
            except (OSError, LabError, ValueError):
                pass
        if not asked:
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def kill_group(proc, timeout=10):
    """SIGKILL to a helper's whole session; waits for it. False if it would not go."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.communicate(timeout=timeout)
    except (subprocess.TimeoutExpired, ValueError):
        return False
    return True


def ready(p, what, timeout=30):
    """p once it has printed its "ready" line (its socket is bound); LabError otherwise."""
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            err = ""
        raise LabError(f"{what} did not start: {line}{err}")
    return p


def result(p, what, timeout):
    """Waits for a helper's JSON result (its last stdout line)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        p.kill()
        p.communicate()
        raise LabError(f"{what}: no result after {timeout} s") from e
    if p.returncode != 0:
        raise LabError(f"{what}: exit {p.returncode}: {out}{err}")
    return json.loads(out.strip().splitlines()[-1])


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def tail(path, lines=40):
    """The last lines of a log file ("" when there is none)."""
    return "".join(read_text(path).splitlines(True)[-lines:])


def status_kib(pid, field="VmRSS"):
    """A memory figure of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0])
    raise LookupError(f"no {field} in /proc/{pid}/status")


def open_fds(pid):
    """How many descriptors a process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def write_secret(path, text):
    """A file only its owner can read (keys, PSKs), created that way: never world-readable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def load_script(path, name):
    """A Python script without a .py suffix (scripts/espgw-up) as module `name`: its functions to
    call, its main() not run (it runs only as a script)."""
    loader = importlib.machinery.SourceFileLoader(name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module
