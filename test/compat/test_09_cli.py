"""The store's command line: plasma-store-server's flags (docs §7.1). A bad
command line must end the process with a non-zero status and one line on
stderr that says what is wrong."""

import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from compat_util import new_id
from storeproc import IS_REFERENCE, TARGET_EXE, run_store_cli


@pytest.fixture
def sock_dir():
    d = tempfile.mkdtemp(prefix="ppcli-", dir="/tmp")
    yield d
    subprocess.run(["rm", "-rf", d], check=False)


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


CASES = {
    # name: (argv builder, the reference store prints exactly one line too; where it
    # does not, it logs its start-up lines first or aborts with a backtrace)
    "unknown_flag": (lambda d: ["-z", "1", "-s", f"{d}/s", "-m", "1000000"], True),
    # Deliberate differences (README): plasmapool defaults -s to /tmp/plasmapool.sock and -m to
    # 1GiB, and -m accepts units (1G, 512MB, 4GiB); see test_units_are_accepted below.
    "memory_zero": (lambda d: ["-s", f"{d}/s", "-m", "0"], False),
    "socket_path_too_long": (lambda d: ["-s", f"{d}/{'a' * 120}.sock", "-m", "1000000"], False),
    "directory_missing": (lambda d: ["-s", f"{d}/s", "-m", "1000000", "-d", f"{d}/nope"], False),
    "unknown_external_store": (lambda d: ["-s", f"{d}/s", "-m", "1000000", "-e", "bogus://x"],
                               False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_command_line_fails_with_one_line(sock_dir, case):
    build, reference_is_clean = CASES[case]
    result = run_store_cli(build(sock_dir), timeout=5)
    assert result.returncode is not None, f"{case}: the store kept running"
    assert result.returncode != 0, f"{case}: exit status 0"
    lines = [line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
    if IS_REFERENCE and not reference_is_clean:
        return  # only the status is comparable with the reference here
    assert len(lines) == 1, f"{case}: expected one stderr line, got {lines}"


@pytest.mark.parametrize("value", ["-5", "abc", "12.5", "99999999999999999999999"])
def test_non_integer_or_negative_memory(sock_dir, value):
    result = run_store_cli(["-s", f"{sock_dir}/s", "-m", value], timeout=5)
    assert result.returncode not in (None, 0), f"-m {value} was accepted"


@pytest.mark.plasmapool_only("the reference store only warns and keeps running (§7.1, §13)")
def test_capacity_larger_than_free_space_in_directory(sock_dir):
    too_much = 2 * free_bytes("/dev/shm") + 1_000_000_000
    result = run_store_cli(["-s", f"{sock_dir}/s", "-m", str(too_much), "-d", "/dev/shm"],
                           timeout=10)
    assert result.returncode is not None, "the store started anyway"
    assert result.returncode != 0
    lines = [line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
    assert len(lines) == 1, lines


def _wait_connectable(path: str, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            return
        except OSError:
            time.sleep(0.02)
        finally:
            probe.close()
    raise AssertionError(f"store not accepting on {path} (exit {proc.poll()})")


def test_gflags_style_flag_forms_are_accepted(sock_dir):
    # gflags also takes --s=..., -m=...; pyarrow never uses them, but scripts might.
    argv = [str(TARGET_EXE), f"--s={sock_dir}/g.sock", "-m=1000000"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_connectable(f"{sock_dir}/g.sock", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")


def test_sigterm_as_soon_as_the_socket_exists_exits_zero(sock_dir):
    # GLib/Ruby test helpers wait for the socket file, then send SIGTERM (§7.3).
    path = f"{sock_dir}/early.sock"
    proc = subprocess.Popen([str(TARGET_EXE), "-s", path, "-m", "1000000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, "SIGTERM arrived before the store's handler was installed"


def test_custom_directory_is_used(start, tmp_path):
    store = start(2_000_000, directory=str(tmp_path))
    client = store.client()
    client.create_and_seal(new_id(), b"x" * 1000)
    assert client.store_capacity() == 2_000_000


def test_sigterm_exits_zero_with_clients_connected(start):
    store = start(1_000_000)
    c = store.client()
    c.subscribe()
    buf = c.create(new_id(), 100)
    store.proc.send_signal(signal.SIGTERM)
    assert store.proc.wait(10) == 0
    store.stop()  # only cleans up now
    del buf


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_files_left_in_the_directory_after_the_store_ends(start, tmp_path, how):
    # The reference creates its backing file with mkstemp and unlinks it at once
    # (§4.1), so nothing is left even after SIGKILL, which is how pyarrow's own
    # start_plasma_store() ends a store that is still running.
    shm = tmp_path / "shm"
    shm.mkdir()
    store = start(2_000_000, directory=str(shm))
    store.client().create_and_seal(new_id(), b"x" * 1000)
    store.proc.send_signal(how)
    store.proc.wait(10)
    store.stop()  # only cleans up now
    left = sorted(p.name for p in shm.iterdir())
    assert left == [], f"files left in -d after {how.name}: {left}"


@pytest.mark.plasmapool_only("the reference takes plain byte counts only (§7.1)")
def test_units_are_accepted(start):
    """-m 1G means 1 GiB, as `plasmapool store --help` documents."""
    store = start("16MiB")
    client = store.client()
    assert client.store_capacity() == 16 * 1024 * 1024
