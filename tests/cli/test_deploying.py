"""The README's "Deploying" section, followed line by line: every command it shows exists and its flags
parse, every file it names is in the repository, and the service file starts a command that parses."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"voisinage ((?:run|init|check-config|admin|backup|restore|status)\b[^`\n]*)")


def deploying() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Deploying", 1)[1].split("\n## ", 1)[0]


def commands() -> list[list[str]]:
    found = []
    for match in COMMAND.finditer(deploying()):
        line = re.sub(r"\$\([^)]*\)", "X", match.group(1))  # a shell substitution stands for one word
        line = re.split(r"\s(?:&&|#|;)\s?", line)[0]
        found.append(shlex.split(line))
    return found


def test_the_section_shows_every_command_of_whoever_runs_the_bot() -> None:
    shown = {words[0] if words[0] != "admin" else f"admin {words[1]}" for words in commands()}
    assert {"init", "check-config", "admin add", "status", "backup", "restore"} <= shown, shown


@pytest.mark.parametrize("words", commands(), ids=lambda words: " ".join(words)[:60])
def test_each_command_shown_parses(words: list[str]) -> None:
    try:
        _parser().parse_args(words)
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"`voisinage {' '.join(words)}` does not parse ({exc})")


def test_the_files_it_names_exist() -> None:
    for name in re.findall(r"\b(deploy/[\w.-]+)", deploying()):
        assert (ROOT / name).exists(), name


def test_the_service_file_restarts_hardens_and_starts_a_command_that_parses() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "voisinage.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Restart"] == "on-failure" and service["User"] == "voisinage"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    words = shlex.split(service["ExecStart"])
    assert words[0].endswith("/voisinage")
    _parser().parse_args(words[1:])
