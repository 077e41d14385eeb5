"""The package builds a pure-Python wheel, and that wheel alone is a working client."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def test_wheel_builds_and_works(tmp_path, store_factory):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(PACKAGE)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    [wheel] = list((tmp_path / "dist").glob("plasmapool-*.whl"))
    assert wheel.name.endswith("-py3-none-any.whl")  # pure Python: no compiler involved
    names = zipfile.ZipFile(wheel).namelist()
    assert "plasmapool/client.py" in names and not any(n.endswith((".so", ".c", ".pyx")) for n in names)

    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target),
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    store = store_factory(10_000_000, "plasmapool")
    code = ("import sys, plasmapool as plasma; assert plasmapool_path(plasma); "
            "c = plasma.connect(sys.argv[1]); print(c.get(c.put({'ok': [1, 2]})))")
    code = "def plasmapool_path(m):\n    return m.__file__.startswith(sys.argv[2])\n" + code.replace("; ", "\n")
    run = subprocess.run([sys.executable, "-I", "-c", "import sys\nsys.path.insert(0, sys.argv[2])\n" + code,
                          store.socket, str(target)], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "{'ok': [1, 2]}"
