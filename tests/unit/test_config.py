"""A bad configuration is refused with the key, the problem and an example, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "voisinage.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load() -> None:
    config = load_config()
    assert config.deployment.language == "fr" and config.circles.hard_max == 12


def test_a_deployment_file_overrides_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[deployment]\nlanguage = "en"\n[checkins]\nthreshold_days = 7\n'))
    assert config.deployment.language == "en" and config.checkins.threshold_days == 7
    assert config.deployment.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[deployment]\nlangage = "fr"\n', "deployment.langage", "did you mean 'language'"),
        ('[deployment]\nlanguage = "de"\n', "deployment.language", "must be one of"),
        ('[deployment]\ntimezone = "Mars/Olympus"\n', "deployment.timezone", "unknown time zone"),
        ('[circles]\nhard_max = "twelve"\n', "circles.hard_max", "must be int"),
        ("[circles]\ntarget_max = 20\n", "circles", "hard_max"),
        ('[checkins]\nquiet_start = "25:00"\n', "checkins.quiet_start", "HH:MM"),
        ("[telegram]\nsends_in_flight = 0\n", "telegram.sends_in_flight", "1 to 30"),
        ("[matrix]\nmessages_per_second = -1\n", "matrix.messages_per_second", "0 (no limit) or more"),
        ("[matrix]\nburst = 0\n", "matrix.messages_per_second", "burst of 1 or more"),
        ('[matrix]\nmessages_per_second = "fast"\n', "matrix.messages_per_second", "must be float"),
        ("[checkins]\nthreshold_days = true\n", "checkins.threshold_days", "must be int"),
        ('[telegram]\nmode = "carrier pigeon"\n', "telegram.mode", "polling"),
        ("[nope]\nx = 1\n", "nope", "unknown setting"),
        ("deployment = 3\n", "deployment", "[section]"),
        ("[deployment\n", "voisinage.toml", "not valid TOML"),
    ],
)
def test_bad_settings_are_explained(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.key.endswith(key)
    assert words in str(err.value)
    assert err.value.example


def test_the_matrix_budget_defaults_to_synapses_and_takes_a_whole_number(tmp_path: Path) -> None:
    """Synapse's default rc_message (0.2/s, burst 10); "0" (an int in TOML) means no pacing."""
    default = load_config().matrix
    assert (default.messages_per_second, default.burst) == (0.2, 10)
    exempt = load_config(write(tmp_path, "[matrix]\nmessages_per_second = 0\n")).matrix
    assert exempt.messages_per_second == 0.0 and isinstance(exempt.messages_per_second, float)


def test_check_config_command_says_what_is_wrong(tmp_path: Path) -> None:
    path = write(tmp_path, '[deployment]\nlanguage = "de"\n')
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Configuration problem in deployment.language" in done.stderr
    assert "Traceback" not in done.stderr


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "init", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '# language = "fr"' in path.read_text(encoding="utf-8")
    assert load_config(path).deployment.language == "fr"
