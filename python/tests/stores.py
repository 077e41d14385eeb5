"""Store processes for the client tests: `plasmapool store` (the Node store of this
repository) and the reference `plasma-store-server` of the pyarrow 11 venv (.venv,
created by scripts/setup-python.sh). One helper starts them; stop() always
terminates the process and removes its directory and region files."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "bin" / "plasmapool.js"
OLD_VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def reference_store() -> Path | None:
    found = sorted(glob.glob(str(REPO / ".venv" / "lib" / "python3.*" / "site-packages" / "pyarrow" / "plasma-store-server")))
    return Path(found[0]) if found else None


def store_argv(kind: str, sock: str, memory: int) -> list[str]:
    if kind == "plasmapool":
        return ["node", str(CLI), "store", "-s", sock, "-m", str(memory)]
    if kind == "reference":
        exe = reference_store()
        if exe is None:
            raise RuntimeError("the reference plasma-store-server is missing: run scripts/setup-python.sh "
                               "(it creates .venv with pyarrow 11)")
        return [str(exe), "-s", sock, "-m", str(memory)]
    raise ValueError(f"unknown store kind {kind!r}")


def region_files(pid: int) -> list[str]:
    return glob.glob(f"/dev/shm/plasmapool-*-{pid}-*")


@dataclass
class Store:
    kind: str
    socket: str
    capacity: int
    proc: subprocess.Popen
    workdir: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return (self.workdir / "store.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int | None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for leftover in region_files(self.pid):
            os.unlink(leftover)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode


def wait_for_socket(path: str, proc: subprocess.Popen, timeout: float, what: str, log=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before accepting connections:\n{log()}")
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
                return
            except OSError:
                pass
            finally:
                probe.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not accepting on {path} after {timeout} s:\n{log()}")
        time.sleep(0.02)


def start_store(kind: str, memory: int = 100_000_000) -> Store:
    workdir = Path(tempfile.mkdtemp(prefix="pppy-", dir="/tmp"))
    sock = str(workdir / "plasma.sock")
    with open(workdir / "store.log", "wb") as log:
        proc = subprocess.Popen(store_argv(kind, sock, memory), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    store = Store(kind, sock, memory, proc, workdir)
    try:
        wait_for_socket(sock, proc, 20, f"the {kind} store", store.log)
    except BaseException:
        store.stop()
        raise
    return store
