"""Every script in scripts/ starts (``--help``) from any folder, on its own checkout's naba.

A script run as ``python scripts/X.py`` must import the naba beside it, not whichever one is
installed (another checkout's, an older release) or none: a fake ``naba`` first on PYTHONPATH
stands for that other one here. scripts/demo.sh, likewise, runs the naba it installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "scripts").glob("*.py") if p.name != "reportlib.py")


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_starts_on_its_own_checkout(name: str, tmp_path: Path) -> None:
    fake = tmp_path / "other" / "naba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('another naba than the checkout beside the script')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / name), "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout



DEMO_STEPS = [
    "-m pip install -q torch==2.13.0",
    "-m pip install -q -e .",
    "-m naba.cli data validate data/",
    "-m naba.cli data stats data/demo/train.jsonl",
    "-m naba.cli train configs/demo.yaml",
    "-m naba.cli tag runs/demo data/examples/hama-article.jsonl",
]


@pytest.mark.parametrize(
    ("args", "code", "said", "steps"),
    [
        # it installed naba with python3 -m pip, then ran whatever `naba` PATH found: none where pip put it
        # in ~/.local/bin (not on PATH), or another environment's (the failing stand-in here)
        ((), 0, "", DEMO_STEPS),
        # its arguments were ignored: demo.sh run.overwrite=true ran it all and kept the old run, without a word
        (("run.overwrite=true",), 2, "demo.sh: takes no arguments, not 'run.overwrite=true'", []),
    ],
    ids=["runs-the-naba-it-installed", "refuses-arguments"],
)
def test_demo(tmp_path: Path, args: tuple[str, ...], code: int, said: str, steps: list[str]) -> None:
    # stand-ins first on PATH: a python3 that only logs its arguments, and another naba that fails
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "python3.log"
    log.touch()
    (bin_ / "python3").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n')
    (bin_ / "naba").write_text("#!/bin/sh\necho 'another naba' >&2\nexit 3\n")
    for stub in bin_.iterdir():
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == code, run.stderr[-2000:]
    assert said in run.stderr
    assert log.read_text().splitlines() == steps
