"""The verifier SDK installs and runs on its own: a fresh virtual environment, `pip install .`,
no Django and nothing of the gateway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


def test_installs_alone_and_imports_no_django(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True, timeout=600, check=False
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import importlib, pkgutil, sys, verifier;"
        "[importlib.import_module(f'verifier.{m.name}') for m in pkgutil.iter_modules(verifier.__path__)];"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'gateway', 'countries', 'trustlist')];"
        "assert not bad, bad; print('clean')"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.stdout.strip() == "clean", result.stderr
    help_text = subprocess.run(
        [str(venv / "bin" / "dcc-verifier"), "--help"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert "sync" in help_text.stdout
    version = subprocess.run(
        [str(venv / "bin" / "dcc-verifier"), "--version"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert version.stdout.strip() == "dcc-verifier 0.1.0"
    typed = subprocess.run(
        [
            str(python),
            "-c",
            "import pathlib, verifier; print((pathlib.Path(verifier.__file__).parent / 'py.typed').exists())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert typed.stdout.strip() == "True", "PEP 561: the installed package carries py.typed"
