"""What the person running the bot sees when something is wrong: one clear sentence, never a traceback.

Each case below printed a Python traceback (or, for a missing secret, said nothing at all) before.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import ConfigError, load_config
from bot.core.logs import MASK, install_redaction

ROOT = Path(__file__).resolve().parents[2]


def voisinage(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    secrets = ("TELEGRAM_TOKEN", "MATRIX_ACCESS_TOKEN", "MATRIX_PASSWORD")
    clean = {k: v for k, v in os.environ.items() if k not in secrets}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=90,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=cwd or ROOT, stdin=subprocess.DEVNULL,
    )


def no_traceback(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    return done.stderr


def test_a_config_file_that_is_not_utf8_is_explained(tmp_path: Path) -> None:
    """Reproduces: a Latin-1 file (é as one byte) raised UnicodeDecodeError with a traceback."""
    path = tmp_path / "voisinage.toml"
    path.write_bytes('[deployment]\nname = "Quartier Sainte-Genevi\u00e8ve"\n'.encode("latin-1"))
    err = no_traceback(voisinage("check-config", "--config", str(path)))
    assert "not UTF-8" in err and str(path) in err


def test_init_into_a_missing_folder_is_explained() -> None:
    """Reproduces: ``init --config /nonexistent/x.toml`` raised FileNotFoundError with a traceback."""
    err = no_traceback(voisinage("init", "--config", "/nonexistent/x.toml"))
    assert "Cannot write /nonexistent/x.toml" in err


def test_run_with_a_database_in_a_missing_folder_is_explained(tmp_path: Path) -> None:
    """Reproduces: ``run --database /nonexistent/dir/x.sqlite3`` raised sqlite3.OperationalError."""
    err = no_traceback(voisinage("run", "--console", "--database", "/nonexistent/dir/x.sqlite3", cwd=tmp_path))
    assert "/nonexistent/dir" in err and "does not exist" in err


def test_matrix_homeserver_without_its_secret_names_the_variables(tmp_path: Path) -> None:
    """Reproduces: check-config said "Configuration OK" and run silently started the console."""
    path = tmp_path / "voisinage.toml"
    path.write_text('[matrix]\nhomeserver = "https://matrix.example.org"\nuser_id = "@bot:example.org"\n')
    for command in (["check-config"], ["run"]):
        err = no_traceback(voisinage(*command, "--config", str(path), cwd=tmp_path))
        assert "MATRIX_ACCESS_TOKEN" in err and "MATRIX_PASSWORD" in err
    done = voisinage("check-config", "--config", str(path), env={"MATRIX_ACCESS_TOKEN": "syt_abc"})
    assert done.returncode == 0 and "matrix" in done.stdout


def test_admin_without_platform_is_refused_with_an_example(tmp_path: Path) -> None:
    """Reproduces: ``admins = ["modo"]`` was accepted and matched no one."""
    path = tmp_path / "voisinage.toml"
    path.write_text('[deployment]\nadmins = ["telegram:42", "modo"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "deployment.admins" and "'modo'" in caught.value.problem
    assert "telegram:" in caught.value.example
    path.write_text('[deployment]\nadmins = ["telegram:42", "matrix:@ana:example.org", "console:alice"]\n')
    assert len(load_config(path).deployment.admins) == 3


def test_private_feed_addresses_cannot_be_allowed_from_a_deployment_file(tmp_path: Path) -> None:
    """The tests' switch for local feed servers is not a setting a deployment could turn on by mistake."""
    path = tmp_path / "voisinage.toml"
    path.write_text("[activities]\nimport_allow_private = true\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "unknown setting" in caught.value.problem
    assert load_config().activities.import_allow_private is False


def test_telegram_unreachable_is_one_sentence(tmp_path: Path) -> None:
    """Reproduces: Telegram unreachable at start printed a 109-line traceback."""
    path = tmp_path / "voisinage.toml"
    path.write_text('[telegram]\napi_base_url = "http://127.0.0.1:9/bot"\n')
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
    done = voisinage("run", "-v", "--config", str(path), env={"TELEGRAM_TOKEN": token}, cwd=tmp_path)
    err = no_traceback(done)
    assert "Telegram cannot be reached" in err
    assert token not in err + done.stdout  # not even in the -v log lines


def test_secrets_are_redacted_from_every_log_level() -> None:
    """Reproduces: with -v, httpx's INFO line ``HTTP Request: POST https://api.telegram.org/bot<token>/getMe``
    wrote the bot token to the log."""
    stream = io.StringIO()
    logger = logging.getLogger("test-redaction")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        install_redaction(["s3cret-password", ""], logger)
        token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
        logger.info("HTTP Request: %s %s", "POST", f"https://api.telegram.org/bot{token}/getMe")
        logger.debug("login with s3cret-password")
        logger.warning("matrix token %s refused", "syt_Ym90_abcdefghijklmnop_123")
        try:
            raise RuntimeError(f"bad url https://api.telegram.org/bot{token}/x")
        except RuntimeError:
            logger.exception("failed")
        logger.info("nothing secret: %d neighbours", 12)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert token not in text and "s3cret-password" not in text and "syt_Ym90" not in text
    assert text.count(MASK) == 4 and "/getMe" in text and "nothing secret: 12 neighbours" in text
