"""The wheel, installed (not editable) and used from a folder outside the checkout, runs the
harness; ``problems``, ``solvers`` and ``experiments`` install inside the ``qbench`` namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("qbench-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    top = {p.name for p in site.iterdir()}
    assert "qbench" in top
    assert not top & {"problems", "solvers", "experiments"}, sorted(top)
    # The dependencies come from this environment, as plain path entries (its editable-install
    # hook, which maps qbench to the checkout, is not processed for such entries).
    dependencies = [p for p in sys.path if p.endswith("site-packages")] or [sysconfig.get_paths()["purelib"]]
    (site / "zz_dependencies.pth").write_text("".join(f"{p}\n" for p in dependencies))

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBENCH_", "PYTHON"))}

    def qbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "qbench", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([str(python), "-c", "import qbench.problems, qbench.experiment_source as e; "
                            "print(qbench.problems.__file__); print(e.experiments_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where

    listed = qbench("sweep", "experiment=smoke", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert "smoke" in listed.stdout and "runs" in listed.stdout
    ran = qbench("run", "problem=mdkp", "solver=scip", "progress=false")
    assert ran.returncode == 0, ran.stderr
    assert list((work / "results").rglob("record.json"))
