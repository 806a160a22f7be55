"""A throw-away Synapse homeserver on 127.0.0.1 for tests and benchmarks.

Why a real homeserver and not a mock: the Matrix adapter's hard parts (room version 12 power
levels, ``M_LIMIT_EXCEEDED`` with ``retry_after_ms``, sync tokens, encrypted-room detection) are
behaviours of Synapse itself, and a mock would only echo our own assumptions back.

Usage (synchronous on purpose, so a session-scoped pytest fixture or a plain script in ``bench/``
can drive it without an event loop)::

    with SynapseServer(tmp_path) as hs:
        alice = hs.register("alice")
        ...  # point nio at hs.base_url, restore_login(alice.user_id, alice.device_id, ...)

Measured on the 2-core development machine (Synapse 1.163.2, SQLite, Python 3.11): ``start()``
returns after 1.1 s on a fresh workdir (signing key, schema creation, first ``/versions``
answer) and 0.9 s on an existing one; ``stop()`` takes about 0.03 s. Registering a user costs
about 15 ms because the config lowers ``bcrypt_rounds`` to 4. The 60 s deadline is for slow,
busy CI machines (the platform notes saw up to 12 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

SERVER_NAME = "localhost"
PORT_ATTEMPTS = 3  # a port taken between choosing it and Synapse binding it: choose again
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0

# Every client-facing rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py).
# Tests create rooms, invite, join and log in far faster than any human, so with the defaults
# they would stall on ``M_LIMIT_EXCEEDED`` (e.g. login: 0.003/s, burst 5 per address).
_FAST = {"per_second": 10_000, "burst_count": 100_000}
RAISED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _FAST,
    "rc_registration": _FAST,
    "rc_registration_token_validity": _FAST,
    "rc_login": {"address": _FAST, "account": _FAST, "failed_attempts": _FAST},
    "rc_admin_redaction": _FAST,
    "rc_joins": {"local": _FAST, "remote": _FAST},
    "rc_joins_per_room": _FAST,
    "rc_3pid_validation": _FAST,
    "rc_invites": {"per_room": _FAST, "per_user": _FAST, "per_issuer": _FAST},
    "rc_third_party_invite": _FAST,
    "rc_room_creation": _FAST,
    "rc_media_create": _FAST,
    "rc_key_requests": _FAST,
    "rc_presence": {"per_user": _FAST},
    "rc_delayed_event_mgmt": _FAST,
    "rc_reports": _FAST,
    "rc_user_directory": _FAST,
    "rc_profile": _FAST,
}


class SynapseError(RuntimeError):
    """Synapse failed to start, died, or refused an admin request (message carries the log tail)."""


@dataclass(frozen=True)
class RegisteredUser:
    """A user created through the shared-secret API, with a ready access token (no login needed)."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def _free_port() -> int:
    """Ask the kernel for a free loopback port (tiny race before Synapse binds it; fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int) -> str:
    """Last ``lines`` lines of a log file, or a note that it does not exist yet."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


class SynapseServer:
    """One Synapse process with its config, SQLite database, keys and logs in ``workdir``.

    ``start()`` and ``stop()`` are synchronous (blocking): this keeps the server independent of
    any event loop, which matters because pytest-asyncio gives each test its own loop while the
    server lives for the whole session. ``register()`` is synchronous too; ``register_async()``
    runs it in a thread for use inside async fixtures.
    """

    def __init__(self, workdir: Path, *, raised_rate_limits: bool = True,
                 app_service_config_files: list[Path] = ()) -> None:
        self.workdir = Path(workdir).resolve()
        self.raised_rate_limits = raised_rate_limits
        # Application service registrations (appservice mode of the bot), passed as Synapse's setting.
        self.app_service_config_files = [str(Path(p).resolve()) for p in app_service_config_files]
        self.server_name = SERVER_NAME
        self.port = 0
        self.config_path = self.workdir / "homeserver.yaml"
        self.log_path = self.workdir / "homeserver.log"
        self.stderr_path = self.workdir / "homeserver.stderr"
        self.startup_seconds: float | None = None
        self._shared_secret = secrets.token_hex(32)
        self._process: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """Homeserver URL for clients (``AsyncClient(base_url, …)``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Write the config, launch Synapse and block until it answers ``/versions`` (≤ 60 s)."""
        if self.running:
            return
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        chosen_here = not self.port
        self.port = self.port or _free_port()  # a restart keeps its address: clients keep their URL
        for attempt in range(PORT_ATTEMPTS):
            self._write_config()
            self._launch()
            try:
                self._wait_until_ready(began + START_TIMEOUT_S)
                break
            except SynapseError as error:
                # The port was free when asked for, and taken (by another test process) before Synapse
                # bound it, seconds later: another port, as long as none was fixed by a first start.
                if not chosen_here or attempt == PORT_ATTEMPTS - 1 or "Address already in use" not in str(error):
                    raise
                self.port = _free_port()
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Terminate Synapse (SIGTERM), wait, and SIGKILL it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Stop and start again on the same port and database (what an operator's restart does)."""
        self.stop()
        self.start()

    def __enter__(self) -> SynapseServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        """Recent Synapse log and stderr lines, for failure messages."""
        return (
            f"--- {self.log_path} ---\n{_tail(self.log_path, lines)}\n"
            f"--- {self.stderr_path} ---\n{_tail(self.stderr_path, lines)}"
        )

    # ----------------------------------------------------------------- config

    def homeserver_config(self) -> dict[str, Any]:
        """The homeserver.yaml content (JSON is valid YAML, so it is written as JSON)."""
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.base_url + "/",
            # Client (and admin) API only: no federation listener, nothing beyond loopback.
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.workdir / "homeserver.db")}},
            "log_config": str(self.workdir / "log.config"),
            "media_store_path": str(self.workdir / "media_store"),
            "signing_key_path": str(self.workdir / f"{self.server_name}.signing.key"),
            "registration_shared_secret": self._shared_secret,
            "macaroon_secret_key": secrets.token_hex(32),
            "form_secret": secrets.token_hex(32),
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            # Default 12 rounds ≈ 0.3 s per registration on a slow CI core; 4 is plenty for tests.
            "bcrypt_rounds": 4,
            # Default 2 min: two syncs with the same token would be answered from the cache.
            "caches": {"sync_response_cache_duration": 0},
        }
        if self.raised_rate_limits:
            config.update(RAISED_RATE_LIMITS)
        if self.app_service_config_files:
            config["app_service_config_files"] = self.app_service_config_files
        return config

    def _log_config(self) -> dict[str, Any]:
        """Python logging config: unbuffered file handler, so the tail is current on failure."""
        return {
            "version": 1,
            "formatters": {
                "precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(request)s - %(message)s"}
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
            "root": {"level": "INFO", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }

    def _write_config(self) -> None:
        (self.workdir / "log.config").write_text(json.dumps(self._log_config(), indent=2))
        self.config_path.write_text(json.dumps(self.homeserver_config(), indent=2))

    # ----------------------------------------------------------------- process

    def _launch(self) -> None:
        """Start Synapse; on first start it generates the missing signing key itself.

        Generating missing files and then running is Synapse's default mode, which spares a
        separate ``--generate-keys`` process (another ~1.5 s of imports). The explicit flag
        ``--generate-missing-and-run`` cannot be passed: Synapse 1.163 accepts it in its first
        argument pass, then rejects it as unrecognised when it parses the arguments again.
        """
        command = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)]
        with self.stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                command,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
            )

    def _wait_until_ready(self, deadline: float) -> None:
        """Poll ``/_matrix/client/versions``; fail with the log tail if Synapse dies or is late."""
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise SynapseError(f"Synapse exited with code {code} during start-up\n{self.log_tail()}")
            if self._answers_versions():
                return
            time.sleep(0.1)
        self.stop()
        raise SynapseError(f"Synapse did not answer within {START_TIMEOUT_S:g} s\n{self.log_tail()}")

    def _answers_versions(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/_matrix/client/versions", timeout=1) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    # ----------------------------------------------------------------- admin API

    def _request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """Minimal JSON HTTP call (stdlib only, so it works without an event loop)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise SynapseError(f"{method} {path} -> HTTP {err.code}: {detail}") from err

    def _mac(self, nonce: str, localpart: str, password: str, admin: bool) -> str:
        """HMAC-SHA1 of nonce, user, password and admin flag, NUL-separated (Synapse's admin API)."""
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        return mac.hexdigest()

    def register(self, localpart: str, password: str | None = None, admin: bool = False) -> RegisteredUser:
        """Create a user with the shared-secret admin API and return its fresh access token.

        No ``/login`` happens, so the (very strict) login rate limits never apply.
        """
        password = password or secrets.token_urlsafe(16)
        nonce = self._request("GET", "/_synapse/admin/v1/register")["nonce"]
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": self._mac(nonce, localpart, password, admin),
        }
        reply = self._request("POST", "/_synapse/admin/v1/register", body)
        return RegisteredUser(reply["user_id"], password, reply["access_token"], reply["device_id"])

    async def register_async(
        self, localpart: str, password: str | None = None, admin: bool = False
    ) -> RegisteredUser:
        """``register`` in a worker thread, so async fixtures do not block their event loop."""
        return await asyncio.to_thread(self.register, localpart, password, admin)

    def override_ratelimit(
        self, user_id: str, admin_token: str, *, messages_per_second: int = 0, burst_count: int = 0
    ) -> dict[str, Any]:
        """Exempt ``user_id`` from the message rate limit (0/0 means unlimited).

        This is what a production homeserver admin does for the bot account
        (``POST /_synapse/admin/v1/users/<id>/override_ratelimit``); ``admin_token`` must belong
        to a server admin. Synapse only accepts integers here.
        """
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        body = {"messages_per_second": messages_per_second, "burst_count": burst_count}
        return self._request("POST", path, body, token=admin_token)
