"""Which store the suite judges, and the one helper that runs store processes.

PLASMA_STORE selects the store under test:
  plasmapool (default)  <repo>/scripts/plasma-store-server (execs the Node store)
  reference             the plasma-store-server bundled in the pyarrow 11 wheel
  /path/to/executable   anything taking plasma-store-server's flags

Every store a test starts goes through start_store(); the fixtures in
conftest.py stop it (SIGTERM, wait, SIGKILL fallback), check that it was still
alive and exited 0, and remove its directory and socket.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "scripts" / "plasma-store-server"
REFERENCE = Path(pyarrow.__path__[0]) / "plasma-store-server"


def _target() -> tuple[str, Path]:
    name = os.environ.get("PLASMA_STORE", "plasmapool") or "plasmapool"
    if name == "plasmapool":
        return name, LAUNCHER
    if name == "reference":
        return name, REFERENCE
    path = Path(name).resolve()
    return ("reference" if path == REFERENCE.resolve() else str(path)), path


TARGET_NAME, TARGET_EXE = _target()
IS_REFERENCE = TARGET_NAME == "reference"


class StoreStartError(RuntimeError):
    pass


# Store processes of the running test (ours and upstream's); conftest's watchdog
# kills them when a test hangs, and clears the list between tests.
RUNNING: list[subprocess.Popen] = []


def track(proc: subprocess.Popen) -> None:
    """Put a store under the running test's watchdog (for stores that outlive a test)."""
    if proc not in RUNNING:
        RUNNING.append(proc)


@dataclass
class StoreProcess:
    socket: str
    capacity: int
    argv: list[str]
    proc: subprocess.Popen
    workdir: Path
    log_path: Path
    expect_clean_exit: bool = True
    clients: list = field(default_factory=list)
    log_tail: str = ""
    stopped: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def client(self, num_retries: int = 20):
        """A pyarrow client, disconnected by the fixture before the store stops."""
        import pyarrow.plasma as plasma
        c = plasma.connect(self.socket, num_retries=num_retries)
        self.clients.append(c)
        return c

    def log(self, lines: int = 60) -> str:
        if self.stopped:
            return self.log_tail
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> tuple[bool, int | None, bool]:
        """SIGTERM, wait, SIGKILL if needed. Returns (was_alive, returncode, killed)."""
        if self.stopped:
            return False, self.proc.returncode, False
        for c in self.clients:
            try:
                c.disconnect()
            except Exception:
                pass
        self.clients.clear()
        was_alive = self.alive()
        killed = False
        if was_alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait()
        self.log_tail = self.log()
        self.stopped = True
        shutil.rmtree(self.workdir, ignore_errors=True)
        return was_alive, self.proc.returncode, killed


def store_argv(socket_path: str, memory: int | str, directory: str | None = None,
               external: str | None = None, extra: list[str] | tuple = ()) -> list[str]:
    argv = [str(TARGET_EXE), "-s", socket_path, "-m", str(memory)]
    if directory is not None:
        argv += ["-d", directory]
    if external is not None:
        argv += ["-e", external]
    return argv + list(extra)


def start_store(memory: int, *, directory: str | None = None, external: str | None = None,
                extra: list[str] | tuple = (), ready_timeout: float = 15.0,
                expect_clean_exit: bool = True) -> StoreProcess:
    """Start a store on a fresh socket and wait until it accepts connections."""
    workdir = Path(tempfile.mkdtemp(prefix="ppcompat-", dir="/tmp"))
    sock = str(workdir / "plasma.sock")
    argv = store_argv(sock, memory, directory, external, extra)
    log_path = workdir / "store.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    store = StoreProcess(sock, memory, argv, proc, workdir, log_path, expect_clean_exit)
    track(proc)
    deadline = time.monotonic() + ready_timeout
    while True:
        if not store.alive():
            log = store.log()
            store.stop()
            raise StoreStartError(
                f"store exited with {proc.returncode} before accepting connections\n"
                f"argv: {' '.join(argv)}\n{log}")
        if os.path.exists(sock):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(sock)
                break
            except OSError:
                pass
            finally:
                probe.close()
        if time.monotonic() > deadline:
            log = store.log()
            store.stop()
            raise StoreStartError(f"store not accepting on {sock} after {ready_timeout}s\n"
                                  f"argv: {' '.join(argv)}\n{log}")
        time.sleep(0.02)
    return store


def run_store_cli(args: list[str], timeout: float = 15.0) -> subprocess.CompletedProcess:
    """Run the store executable with a (bad) command line; kill it if it keeps running."""
    argv = [str(TARGET_EXE), *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # It started after all: stop it gently so that it can remove its files.
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return subprocess.CompletedProcess(argv, None, out, err)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
