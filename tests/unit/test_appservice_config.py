"""The appservice mode's settings and its registration file: refused with a reason when they cannot
work (encryption, a missing token), and a registration the homeserver can load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.core.config import ConfigError, check_secrets, load_config

AS = '[matrix]\nhomeserver = "https://hs.example.org"\nuser_id = "@voisinage:example.org"\nmode = "appservice"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "voisinage.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_plain_account_stays_the_default() -> None:
    assert load_config().matrix.mode == "client"


@pytest.mark.parametrize(("text", "key", "words"), [
    (AS, "matrix.encrypt_circles", "no encryption keys"),
    ('[matrix]\nmode = "bridge"\n', "matrix.mode", '"client"'),
    (AS + "encrypt_circles = false\nappservice_port = 0\n", "matrix.appservice_port", "[web] enabled is false"),
    (AS + 'encrypt_circles = false\nappservice_url = "hs:8009"\n', "matrix.appservice_url", "http://"),
])
def test_appservice_settings_that_cannot_work_are_explained(tmp_path: Path, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.key == key and words in err.value.problem


def test_the_appservice_needs_both_tokens_in_the_environment(tmp_path: Path, monkeypatch) -> None:
    config = load_config(write(tmp_path, AS + "encrypt_circles = false\n"))
    monkeypatch.delenv("MATRIX_AS_TOKEN", raising=False)
    monkeypatch.setenv("MATRIX_HS_TOKEN", "h")
    with pytest.raises(ConfigError) as err:
        check_secrets(config)
    assert "MATRIX_AS_TOKEN is not in the environment" in err.value.problem
    monkeypatch.setenv("MATRIX_AS_TOKEN", "a")
    check_secrets(config)  # no password nor access token needed in this mode


def test_the_registration_names_the_bot_exclusively_and_unthrottled(tmp_path: Path, monkeypatch, capsys) -> None:
    path = write(tmp_path, AS + "encrypt_circles = false\nappservice_port = 9010\n")
    monkeypatch.setenv("MATRIX_AS_TOKEN", "as-token-1")
    monkeypatch.setenv("MATRIX_HS_TOKEN", "hs-token-2")
    out = tmp_path / "registration.yaml"
    assert main(["matrix-registration", "--config", str(path), "--output", str(out)]) == 0
    assert "app_service_config_files" in capsys.readouterr().out
    assert out.stat().st_mode & 0o077 == 0  # secrets: for the homeserver only
    reg = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert reg["id"] == "voisinage" and reg["url"] == "http://127.0.0.1:9010"
    assert (reg["as_token"], reg["hs_token"]) == ("as-token-1", "hs-token-2")
    assert reg["sender_localpart"] == "voisinage" and reg["rate_limited"] is False
    [users] = reg["namespaces"]["users"]
    assert users["exclusive"] is True and users["regex"] == r"@voisinage:example\.org"
    [aliases] = reg["namespaces"]["aliases"]  # the circle rooms' aliases, which the bot creates
    assert aliases["exclusive"] is True and aliases["regex"] == r"#voisinage\-circle\-[0-9a-f]+:example\.org"


@pytest.mark.parametrize(("env", "words"), [
    ({}, "MATRIX_AS_TOKEN and MATRIX_HS_TOKEN are not set"),
    ({"MATRIX_AS_TOKEN": "a"}, "MATRIX_HS_TOKEN is not set"),
    ({"MATRIX_AS_TOKEN": "same", "MATRIX_HS_TOKEN": "same"}, "must differ"),
])
def test_the_registration_without_its_tokens_says_what_to_do_and_writes_nothing(
        tmp_path: Path, monkeypatch, capsys, env: dict[str, str], words: str) -> None:
    for name in ("MATRIX_AS_TOKEN", "MATRIX_HS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "registration.yaml"
    path = write(tmp_path, AS + "encrypt_circles = false\n")
    assert main(["matrix-registration", "--config", str(path), "--output", str(out)]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()
