"""pytest wiring of the compatibility suite.

* Chooses the store under test (PLASMA_STORE, see storeproc.py) and makes the
  unmodified upstream pyarrow/tests/test_plasma.py launch it: pyarrow's own
  start_plasma_store() still runs (temp dir, 0.1 s liveness check, kill,
  cleanup); only argv[0] of its Popen call is swapped (docs §7.2 option (c)).
* Provides the store fixtures our own tests use (one helper, guaranteed cleanup).
* Attaches the store's log to the report of a failing test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import warnings

import pytest

import storeproc
from storeproc import IS_REFERENCE, TARGET_EXE, TARGET_NAME, start_store

warnings.filterwarnings("ignore", message="Plasma is deprecated", category=DeprecationWarning)

UPSTREAM_MODULE = "pyarrow.tests.test_plasma"
# A store that stops answering leaves a pyarrow client blocked in C++ (signals
# do not interrupt it), so a per-test watchdog kills the test's stores instead:
# the client then sees EOF, the test fails, and the session goes on.
TEST_TIMEOUT = float(os.environ.get("PLASMA_COMPAT_TEST_TIMEOUT", "120"))

_current_procs = storeproc.RUNNING


class _SubprocessForPlasma:
    """Stands in for the `subprocess` module inside pyarrow.plasma only."""

    def __init__(self, real, exe: str):
        self._real = real
        self._exe = exe

    def __getattr__(self, name):
        return getattr(self._real, name)

    def Popen(self, command, *args, **kwargs):
        command = list(command)
        if command and command[0] == "valgrind" and not IS_REFERENCE:
            raise RuntimeError("PLASMA_VALGRIND=1 cannot wrap the Node store; unset it")
        for i, arg in enumerate(command):
            if os.path.basename(str(arg)) == "plasma-store-server":
                command[i] = self._exe
                break
        proc = self._real.Popen(command, *args, **kwargs)
        _current_procs.append(proc)
        return proc


class _CompatPlugin:
    """Registered globally so that it also sees the upstream test items."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        _current_procs.clear()
        fired: list[str] = []

        def bite():
            alive = [p for p in list(_current_procs) if p.poll() is None]
            fired.extend(str(p.pid) for p in alive)
            if not fired:
                fired.append("none alive")
            for proc in alive:  # SIGTERM first, so that a store can remove its files
                proc.send_signal(signal.SIGTERM)
            for proc in alive:
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)

        timer = threading.Timer(TEST_TIMEOUT, bite)
        timer.daemon = True
        item._plasma_watchdog = fired
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            _current_procs.clear()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        fired = getattr(item, "_plasma_watchdog", [])
        if fired and report.when == "call":
            report.outcome = "failed"
            report.longrepr = (f"watchdog: test ran past {TEST_TIMEOUT:.0f} s "
                               f"(PLASMA_COMPAT_TEST_TIMEOUT); killed store pid(s) "
                               f"{', '.join(fired)} to unblock the client\n"
                               + (str(report.longrepr) if report.longrepr else ""))
        if report.failed:
            for s in getattr(item, "_plasma_stores", []):
                report.sections.append((f"store {s.pid} log ({' '.join(s.argv[1:])})",
                                        s.log() or "(empty)"))


def pytest_configure(config):
    import pyarrow.plasma as plasma

    if not os.access(TARGET_EXE, os.X_OK):
        raise pytest.UsageError(f"store under test {TARGET_EXE} is not executable "
                                f"(PLASMA_STORE={TARGET_NAME})")
    if not isinstance(plasma.subprocess, _SubprocessForPlasma):
        plasma.subprocess = _SubprocessForPlasma(subprocess, str(TARGET_EXE))
    if not config.pluginmanager.has_plugin("plasmapool-compat"):
        config.pluginmanager.register(_CompatPlugin(), "plasmapool-compat")
    for name, text in [
        ("upstream", "pyarrow 11's own tests/test_plasma.py, run unmodified"),
        ("plasmapool_only", "input the reference store is documented to crash on or "
                            "lacks (§13); skipped with a reason when PLASMA_STORE=reference"),
        ("needs_external_store", "needs -e hashtable:// eviction to an external store"),
        ("needs_file_spill", "needs plasmapool's -e file:///DIR spill to files"),
        ("needs_quota", "needs SetOptions quotas (§10.1)"),
        ("needs_debug_string", "needs the reference GetDebugString text format (§10.2)"),
        ("needs_batch", "needs CreateAndSealBatch (§3.5)"),
        ("needs_abort", "needs Abort (§3.12)"),
        ("needs_refresh_lru", "needs RefreshLRU (§3.16)"),
        ("slow", "takes more than a few seconds"),
    ]:
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_report_header(config):
    return f"plasma store under test: {TARGET_NAME} ({TARGET_EXE})"


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__ == UPSTREAM_MODULE:
            item.add_marker(pytest.mark.upstream)
        if IS_REFERENCE and item.get_closest_marker("plasmapool_only"):
            mark = item.get_closest_marker("plasmapool_only")
            reason = mark.args[0] if mark.args else "the reference store crashes on this input"
            item.add_marker(pytest.mark.skip(reason=f"plasmapool only: {reason}"))


# --- fixtures ------------------------------------------------------------------

DEFAULT_CAPACITY = 10_000_000


@pytest.fixture
def start(request):
    """Factory: start(memory, directory=, external=, extra=) -> StoreProcess.

    Teardown stops every store it started: SIGTERM, wait, SIGKILL fallback,
    then removes its directory and socket. A store that died during the test,
    or did not exit 0 after SIGTERM, fails the test (unless started with
    expect_clean_exit=False)."""
    started: list[storeproc.StoreProcess] = []
    request.node._plasma_stores = started

    def _start(memory: int = DEFAULT_CAPACITY, **kwargs) -> storeproc.StoreProcess:
        s = start_store(memory, **kwargs)
        started.append(s)
        return s

    yield _start
    problems = []
    for s in started:
        if s.stopped:
            continue  # the test stopped it and checked what it needed
        was_alive, rc, killed = s.stop()
        if not s.expect_clean_exit:
            continue
        if not was_alive:
            problem = f"store {s.pid} died during the test (exit {rc})"
        elif killed:
            problem = f"store {s.pid} ignored SIGTERM for 10 s and was killed"
        elif rc != 0:
            problem = f"store {s.pid} exited {rc} after SIGTERM, expected 0 (§7.1)"
        else:
            continue
        problems.append(f"{problem}\n--- its log ---\n{s.log_tail}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def store(start):
    return start(DEFAULT_CAPACITY)


@pytest.fixture
def client(store):
    return store.client()


@pytest.fixture
def client2(store):
    return store.client()
