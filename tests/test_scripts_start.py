"""Every script in scripts/ starts (``--help``) from any folder, on its own checkout's naba.

A script run as ``python scripts/X.py`` must import the naba beside it, not whichever one is
installed (another checkout's, an older release) or none: a fake ``naba`` first on PYTHONPATH
stands for that other one here.
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
