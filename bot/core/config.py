"""Configuration: ``content/default.toml`` overlaid with the deployment's own TOML file.

Volunteers set this up, not developers, so a mistake is refused at start with the key, what is wrong
and an example — never a traceback. Secrets stay in environment variables; the file only names them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rapidfuzz import process

from bot.core.i18n import LANGUAGES

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
DEFAULTS_FILE = CONTENT_DIR / "default.toml"


class ConfigError(Exception):
    """A bad setting, said the way a volunteer can fix it."""

    def __init__(self, key: str, problem: str, example: str) -> None:
        super().__init__(f"{key}: {problem}. Example: {example}")
        self.key, self.problem, self.example = key, problem, example


@dataclass(frozen=True)
class Deployment:
    name: str
    language: str
    timezone: str
    database: str
    admins: list[str]
    # The environment variable holding the PostgreSQL password (never the file): "" for SQLite, or for a
    # server that needs none (a Unix socket with peer authentication).
    database_password_env: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Places:
    neighbourhoods: list[str]
    national: str

    def neighbourhood_paths(self) -> list[Path]:
        return [_content_path(p) for p in self.neighbourhoods]

    def national_path(self) -> Path | None:
        return _content_path(self.national) if self.national else None


@dataclass(frozen=True)
class Circles:
    target_min: int
    target_max: int
    hard_max: int
    merge_below: int
    open_with: int = 5  # a new circle opens with this many neighbours: nobody alone in a room


@dataclass(frozen=True)
class Checkins:
    threshold_days: int
    escalation_hours: int
    pass_time: str
    quiet_start: str
    quiet_end: str
    stage_hours: int = 24  # how long each person told has before the ladder moves on to the next


@dataclass(frozen=True)
class Limits:
    max_answer: int


@dataclass(frozen=True)
class Telegram:
    token_env: str
    mode: str
    webhook_url: str
    webhook_port: int
    webhook_secret_env: str
    api_base_url: str
    poll_timeout: int
    sends_in_flight: int
    username: str = ""  # the bot's @name, for links printed outside the bot (posters); the running bot knows it

    @property
    def token(self) -> str:
        return os.environ.get(self.token_env, "")


@dataclass(frozen=True)
class Matrix:
    homeserver: str
    user_id: str
    access_token_env: str
    password_env: str
    # The account's budget as the homeserver counts it (Synapse's rc_message: every event the bot
    # sends, joins and invites included); 0 when the homeserver's admin exempted the bot.
    messages_per_second: float = 0.2
    burst: int = 10
    # Circle rooms end-to-end encrypted (as people expect of a private group); needs the e2e extra.
    encrypt_circles: bool = True
    # "client": a plain account that logs in and syncs. "appservice": the homeserver pushes events to
    # the bot (an application service registered with `voisinage matrix-registration`), unthrottled.
    mode: str = "client"
    appservice_id: str = "voisinage"
    as_token_env: str = "MATRIX_AS_TOKEN"
    hs_token_env: str = "MATRIX_HS_TOKEN"
    appservice_host: str = "127.0.0.1"
    appservice_port: int = 8009  # 0: on the [web] server
    appservice_url: str = ""  # where the homeserver reaches the bot; "" = http://host:port

    @property
    def access_token(self) -> str:
        return os.environ.get(self.access_token_env, "")

    @property
    def as_token(self) -> str:
        return os.environ.get(self.as_token_env, "")

    @property
    def hs_token(self) -> str:
        return os.environ.get(self.hs_token_env, "")

    @property
    def appservice(self) -> bool:
        return self.mode == "appservice"

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env, "")


@dataclass(frozen=True)
class Moderation:
    """Protection of circles and handling of reports (see ``[moderation]`` in default.toml)."""

    warnings_before_removal: int = 3
    report_retention_days: int = 90
    flood_messages: int = 8
    flood_seconds: int = 30
    mute_minutes: int = 60
    new_member_link_hours: int = 24
    word_list: str = "moderation/words.txt"
    local_questions: str = ""
    max_announcement: int = 1000


@dataclass(frozen=True)
class Web:
    """The bot's own HTTP server: health and metrics for whoever runs it (see ``[web]`` in default.toml)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    metrics: bool = False
    stale_minutes: int = 10
    public_url: str = ""  # where people reach this server (https://…), printed on posters with the agenda page


@dataclass(frozen=True)
class Activities:
    """Local activities: limits on what organizers type, the weekly cap, announcement timing, imports."""

    weekly_cap: int
    max_title: int
    max_location: int
    max_description: int
    max_capacity: int
    agenda_days: int
    reminder_hours: int
    digest_weekday: int
    digest_time: str
    feed_refresh_hours: int
    import_max_bytes: int
    import_chunk: int
    # Whether a feed URL may point to this machine or its local network. Deliberately not a setting of
    # default.toml, so a deployment's file cannot turn it on (it is refused as an unknown key): only
    # code (the tests' local feed servers) sets it.
    import_allow_private: bool = False


@dataclass(frozen=True)
class Config:
    deployment: Deployment
    places: Places
    circles: Circles
    checkins: Checkins
    limits: Limits
    telegram: Telegram
    matrix: Matrix
    activities: Activities
    moderation: Moderation = field(default_factory=Moderation)
    web: Web = field(default_factory=Web)


def _content_path(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else CONTENT_DIR / p


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found", "voisinage init --config voisinage.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})", 'language = "fr"') from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not UTF-8 text (save it as UTF-8 in your editor)", 'name = "Voisinage"') from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.strerror or exc})", "voisinage.toml") from None


def _check_known(section: str, given: dict[str, Any], known: dict[str, Any]) -> None:
    for key in given:
        if key not in known:
            guess = process.extractOne(key, list(known), score_cutoff=60)
            hint = f"did you mean '{guess[0]}'?" if guess else f"known keys: {', '.join(known)}"
            where = f"{section}.{key}" if section else key
            raise ConfigError(where, f"unknown setting ({hint})", f"{guess[0] if guess else next(iter(known))} = …")


def _merge(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    _check_known("", given, defaults)
    merged: dict[str, Any] = {}
    for section, values in defaults.items():
        mine = given.get(section, {})
        if not isinstance(mine, dict):
            raise ConfigError(section, "must be a [section] table", f"[{section}]")
        _check_known(section, mine, values)
        merged[section] = {**values, **mine}
    return merged


def _typed(section: str, key: str, value: Any, default: Any) -> Any:
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # "messages_per_second = 0" means 0.0
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"{section}.{key}", f"must be {expected.__name__}, not {type(value).__name__}", f"{key} = {default!r}"
        )
    return value


_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ADMIN_PLATFORMS = ("telegram", "matrix", "console")


def _validate_admins(admins: list[str]) -> None:
    """An admin without its platform ("modo") would match no one, silently: refuse it with an example."""
    for entry in admins:
        platform, sep, user_id = str(entry).partition(":")
        if not isinstance(entry, str) or not sep or platform not in ADMIN_PLATFORMS or not user_id:
            raise ConfigError(
                "deployment.admins",
                f"{entry!r} must be \"platform:user id\" with platform one of {', '.join(ADMIN_PLATFORMS)}",
                'admins = ["telegram:123456789", "matrix:@ana:example.org"]',
            )


def check_secrets(cfg: Config) -> None:
    """A platform set up in the file but whose secret is missing from the environment would otherwise be
    skipped without a word (the console starts instead): say which variable to set."""
    m = cfg.matrix
    if m.homeserver and m.appservice:
        missing = [name for name in (m.as_token_env, m.hs_token_env) if not os.environ.get(name)]
        if missing:
            raise ConfigError("matrix.mode", f"is \"appservice\" but {' and '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not in the environment "
                              "(the tokens of the registration file)",
                              f"{m.as_token_env}=… {m.hs_token_env}=… voisinage run --config voisinage.toml")
    elif m.homeserver and not (m.access_token or m.password):
        raise ConfigError(
            "matrix.homeserver",
            f"is set but neither {m.access_token_env} nor {m.password_env} is in the environment",
            f"{m.access_token_env}=syt_… voisinage run --config voisinage.toml",
        )
    if m.homeserver and not m.user_id:
        raise ConfigError("matrix.user_id", "is needed with matrix.homeserver", 'user_id = "@voisinage:example.org"')


def _validate(cfg: Config) -> None:
    """The checks that a type alone cannot express."""
    _validate_admins(cfg.deployment.admins)
    m = cfg.matrix
    if m.messages_per_second < 0 or m.burst < 1:
        raise ConfigError("matrix.messages_per_second", "must be 0 (no limit) or more, with a burst of 1 or more",
                          "messages_per_second = 0.2\nburst = 10")
    _validate_appservice(cfg)
    if cfg.deployment.language not in LANGUAGES:
        raise ConfigError("deployment.language", f"must be one of {', '.join(LANGUAGES)}", 'language = "fr"')
    try:
        ZoneInfo(cfg.deployment.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("deployment.timezone", "unknown time zone", 'timezone = "Europe/Paris"') from None
    for key in ("pass_time", "quiet_start", "quiet_end"):
        if not _TIME.match(getattr(cfg.checkins, key)):
            raise ConfigError(f"checkins.{key}", "must be a time HH:MM", f'{key} = "09:00"')
    c = cfg.circles
    if not 1 <= c.merge_below <= c.target_min <= c.target_max <= c.hard_max:
        raise ConfigError(
            "circles",
            "needs 1 <= merge_below <= target_min <= target_max <= hard_max",
            "target_min = 6, target_max = 8, hard_max = 12, merge_below = 3",
        )
    if not 1 <= c.open_with <= c.target_min or 2 * c.open_with > c.hard_max + 1:
        raise ConfigError("circles.open_with", "needs 1 <= open_with <= target_min and 2 * open_with <= hard_max + 1 "
                          "(a full circle splits into two that still have open_with members)", "open_with = 5")
    if not 1 <= cfg.telegram.sends_in_flight <= 30:
        raise ConfigError("telegram.sends_in_flight", "must be 1 to 30", "sends_in_flight = 4")
    for key in ("threshold_days", "escalation_hours", "stage_hours"):
        if getattr(cfg.checkins, key) <= 0:
            raise ConfigError(f"checkins.{key}", "must be above 0", f"{key} = 10")
    for key in (
        "warnings_before_removal",
        "report_retention_days",
        "flood_messages",
        "flood_seconds",
        "mute_minutes",
        "max_announcement",
    ):
        if getattr(cfg.moderation, key) <= 0:
            raise ConfigError(f"moderation.{key}", "must be above 0", f"{key} = {getattr(Moderation, key)}")
    _validate_activities(cfg.activities)
    if not 1 <= cfg.web.port <= 65535:
        raise ConfigError("web.port", "must be 1 to 65535", "port = 8080")
    if cfg.web.public_url and not re.match(r"^https?://[^\s/]+", cfg.web.public_url):
        raise ConfigError("web.public_url", "must start with https:// (or http://)",
                          'public_url = "https://voisins.example.org"')
    if cfg.telegram.username and not re.match(r"^@?[A-Za-z0-9_]{5,32}$", cfg.telegram.username):
        raise ConfigError("telegram.username", "must be the bot's Telegram name (letters, digits, _)",
                          'username = "VoisinageBelleville_bot"')
    if cfg.web.stale_minutes <= 0:
        raise ConfigError("web.stale_minutes", "must be above 0", "stale_minutes = 10")
    if cfg.telegram.mode not in ("polling", "webhook"):
        raise ConfigError("telegram.mode", 'must be "polling" or "webhook"', 'mode = "polling"')
    for path in cfg.places.neighbourhood_paths():
        if not path.exists():
            raise ConfigError("places.neighbourhoods", f"file not found: {path}", '["places/paris-20e.toml"]')


def _validate_appservice(cfg: Config) -> None:
    """The appservice mode's settings. Its encryption is refused here, not discovered later: an
    application service gets no to-device messages nor device lists (MSC2409/MSC3202, which
    matrix-nio does not speak), so it could never hold or share a room key."""
    m = cfg.matrix
    if m.mode not in ("client", "appservice"):
        raise ConfigError("matrix.mode", 'must be "client" (a plain account) or "appservice"', 'mode = "client"')
    if not m.appservice:
        return
    if m.encrypt_circles:
        raise ConfigError(
            "matrix.encrypt_circles",
            "cannot be true in appservice mode: an application service receives no encryption keys, so "
            "the bot could not read encrypted rooms (choose mode = \"client\" for encrypted rooms)",
            "encrypt_circles = false",
        )
    if not 0 <= m.appservice_port <= 65535:
        raise ConfigError("matrix.appservice_port", "must be 1 to 65535, or 0 to share the [web] server",
                          "appservice_port = 8009")
    if m.appservice_port == 0 and not cfg.web.enabled:
        raise ConfigError("matrix.appservice_port", "is 0 (on the [web] server) but [web] enabled is false",
                          "[web]\nenabled = true")
    if not re.match(r"^[A-Za-z0-9._-]+$", m.appservice_id):
        raise ConfigError("matrix.appservice_id", "must be letters, digits, '.', '_' or '-'",
                          'appservice_id = "voisinage"')
    if m.appservice_url and not re.match(r"^https?://[^\s/]+", m.appservice_url):
        raise ConfigError("matrix.appservice_url", "must start with http:// or https://",
                          'appservice_url = "http://127.0.0.1:8009"')


def _validate_activities(a: Activities) -> None:
    if not _TIME.match(a.digest_time):
        raise ConfigError("activities.digest_time", "must be a time HH:MM", 'digest_time = "10:00"')
    if not 0 <= a.digest_weekday <= 6:
        raise ConfigError("activities.digest_weekday", "must be 0 (Monday) to 6 (Sunday)", "digest_weekday = 0")
    for key in (
        "weekly_cap",
        "max_title",
        "max_location",
        "max_description",
        "max_capacity",
        "agenda_days",
        "reminder_hours",
        "feed_refresh_hours",
        "import_max_bytes",
        "import_chunk",
    ):
        if getattr(a, key) <= 0:
            raise ConfigError(f"activities.{key}", "must be above 0", f"{key} = 3")


def load_config(path: Path | None = None) -> Config:
    """Defaults, then the deployment's file if given; raises ``ConfigError`` on the first problem."""
    defaults = _read_toml(DEFAULTS_FILE)
    given = _read_toml(path) if path else {}
    merged = _merge(defaults, given)
    sections = {}
    # Field types are strings here (``from __future__ import annotations``): the section classes above.
    for name, cls in ((f.name, globals()[str(f.type)]) for f in fields(Config)):
        values = {k: _typed(name, k, v, defaults[name][k]) for k, v in merged[name].items()}
        sections[name] = cls(**values)
    cfg = Config(**sections)
    _validate(cfg)
    return cfg
