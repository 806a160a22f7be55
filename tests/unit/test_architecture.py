"""The core stays platform-free, and the code stays clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_LIBRARIES = {"telegram", "nio", "synapse"}
# The command line is where the core and the adapters are put together: the one place allowed both.
COMPOSITION_ROOT = {"cli.py"}


def test_bot_imports_no_platform_library() -> None:
    offenders = []
    for path in ROOT.glob("bot/**/*.py"):
        if path.name in COMPOSITION_ROOT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in PLATFORM_LIBRARIES | {"adapters"}
            ]
    assert offenders == []


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    done = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
