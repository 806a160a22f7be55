"""``voisinage run | init | check-config | admin | backup | restore | status | poster`` — the commands a
volunteer or a town hall's IT types.

``run`` serves every platform that has credentials in the environment (Telegram, Matrix); with none,
it talks in the terminal through the console adapter, with the embedded SQLite database — so the
first run on a fresh machine needs nothing but Python. The others help whoever runs it: the first
admin, a consistent backup while it runs, what it is doing (see ``bot.operations``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from importlib import metadata
from pathlib import Path

from bot.core.config import DEFAULTS_FILE, Config, ConfigError, check_secrets, load_config
from bot.core.logs import install_redaction

log = logging.getLogger("voisinage")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voisinage", description="Voisinage, the neighbourhood bot.")
    parser.add_argument("--version", action="version", version=f"voisinage {_version()}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve Telegram/Matrix, or talk in this terminal when no token is set")
    run.add_argument("--config", type=Path, help="the deployment's TOML file (default: built-in defaults)")
    run.add_argument("--database", help="SQLite file (default: deployment.database from the config)")
    run.add_argument("--console", action="store_true", help="use the terminal even if tokens are set")
    run.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    init = sub.add_parser("init", help="write a commented starter configuration")
    init.add_argument("--config", type=Path, default=Path("voisinage.toml"))
    check = sub.add_parser("check-config", help="check a configuration file and say what is wrong")
    check.add_argument("--config", type=Path, default=None)
    registration = sub.add_parser("matrix-registration",
                                  help="write the appservice registration file for the homeserver (Matrix)")
    registration.add_argument("--config", type=Path, default=None)
    registration.add_argument("--output", type=Path, help="the file to write (default: print it)")
    _operations_parsers(sub)
    return parser


def _operations_parsers(sub: argparse._SubParsersAction) -> None:
    def with_database(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--config", type=Path, help="the deployment's TOML file (default: built-in defaults)")
        parser.add_argument("--database", help="SQLite file (default: deployment.database from the config)")
        return parser

    admin = sub.add_parser("admin", help="add, list or remove the people who may do everything")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    for action, text in (("add", "make an account admin"), ("remove", "take an admin's rights back")):
        with_database(admin_sub.add_parser(action, help=text)).add_argument(
            "account", help="platform:user, e.g. telegram:123456789 or matrix:@anne:example.org")
    with_database(admin_sub.add_parser("list", help="who the admins are, and where each comes from"))
    backup = with_database(sub.add_parser("backup", help="a consistent copy of the database, even while it runs"))
    backup.add_argument("file", type=Path, help="the new backup file (must not exist)")
    restore = with_database(sub.add_parser("restore", help="put a backup back (the bot must be stopped)"))
    restore.add_argument("file", type=Path, help="a file written by `voisinage backup`")
    restore.add_argument("--force", action="store_true", help="even if a heartbeat says the bot runs")
    move = sub.add_parser("migrate-db", help="copy an SQLite deployment's data into PostgreSQL")
    move.add_argument("--config", type=Path, help="voisinage.toml (for deployment.database_password_env)")
    move.add_argument("--from", dest="source", required=True, help="sqlite:PATH of the database to copy")
    move.add_argument("--to", dest="target", required=True, help="postgresql://user@host/database")
    move.add_argument("--replace", action="store_true", help="overwrite a target that already has data")
    with_database(sub.add_parser("status", help="what the bot is doing, from any shell"))
    poster = with_database(sub.add_parser("poster", help="a poster and a card to print (PDF) for a neighbourhood"))
    poster.add_argument("--place", required=True, help="the neighbourhood, e.g. belleville")
    poster.add_argument("--organizer", default="", help="the shop's or association's name printed on it")
    poster.add_argument("--out", type=Path, required=True, help="the PDF file to write")


def _version() -> str:
    try:
        return metadata.version("voisinage")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "init":
        return init(args.config)
    if command == "check-config":
        return check_config(args.config)
    if command == "matrix-registration":
        return matrix_registration(args.config, args.output)
    if command == "migrate-db":
        from bot.operations.commands import migrate_db

        return migrate_db(args)
    if command in ("admin", "backup", "restore", "status", "poster"):
        from bot.operations.commands import operate

        return operate(args)
    if args.command is None:
        args = _parser().parse_args(["run", *(argv or [])])
    return run(args)


def init(path: Path) -> int:
    if path.exists():
        print(f"{path} already exists; not overwritten.")
        return 1
    lines = [
        "# Voisinage configuration. Every setting is shown with its default value, commented out:",
        f"# uncomment and change what your deployment needs. `voisinage check-config --config {path}` checks it.",
        "",
    ]
    for line in DEFAULTS_FILE.read_text(encoding="utf-8").splitlines()[4:]:
        lines.append(line if not line or line.startswith(("#", "[")) else f"# {line}")
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"Cannot write {path}: {exc.strerror or exc}. Choose a folder that exists and that you may write in.",
              file=sys.stderr)
        return 2
    print(f"Wrote {path}. Edit it, then: voisinage run --config {path}")
    return 0


def _load(path: Path | None) -> Config | None:
    try:
        config = load_config(path)
        check_secrets(config)
        return config
    except ConfigError as err:
        print(f"Configuration problem in {err.key}: {err.problem}.\n  Example: {err.example}", file=sys.stderr)
        return None


def matrix_registration(path: Path | None, output: Path | None) -> int:
    """The appservice registration, from the configuration and the two tokens in the environment."""
    try:
        config = load_config(path)
    except ConfigError as err:
        print(f"Configuration problem in {err.key}: {err.problem}.\n  Example: {err.example}", file=sys.stderr)
        return 2
    from adapters.matrix.appservice import RegistrationProblem, registration

    try:
        text = registration(config.matrix, config.web)
    except RegistrationProblem as err:
        print(f"Cannot write the registration: {err}.", file=sys.stderr)
        return 2
    if output is None:
        print(text, end="")
        return 0
    try:
        output.touch(mode=0o600, exist_ok=True)  # secrets: not world-readable, even for a moment
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"Cannot write {output}: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    print(f"Wrote {output}. Give it to the homeserver (Synapse: app_service_config_files: [{output}]), restart it, "
          'then set mode = "appservice" in [matrix] and run the bot with the same two variables.')
    return 0


def check_config(path: Path | None) -> int:
    config = _load(path)
    if config is None:
        return 2
    platforms = [
        name
        for name, on in (("telegram", bool(config.telegram.token)), ("matrix", bool(config.matrix.homeserver)))
        if on
    ]
    print(
        f"Configuration OK. Platforms: {', '.join(platforms) or 'none (console)'}. "
        f"Database: {config.deployment.database}."
    )
    from bot.operations.commands import show_admins

    show_admins(config, Path(config.deployment.database))
    return 0


def run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    has_platform = bool(config.telegram.token) or bool(config.matrix.homeserver)
    _logging(args, console=args.console or not has_platform)
    install_redaction(_secrets(config))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(config, args))
    except StartError as err:
        print(f"Cannot start: {err}", file=sys.stderr)
        return 2
    return 0


class StartError(Exception):
    """Something outside the program keeps it from starting (a database folder, a platform that does not
    answer): said in one sentence, without a traceback."""


def _secrets(config: Config) -> list[str]:
    """What must never appear in a log line, at any level (httpx logs Telegram's URLs, token included)."""
    import os

    names = (config.telegram.token_env, config.telegram.webhook_secret_env,
             config.matrix.access_token_env, config.matrix.password_env, config.matrix.as_token_env,
             config.matrix.hs_token_env)
    return [os.environ.get(name, "") for name in names]


def _logging(args: argparse.Namespace, *, console: bool) -> None:
    """One line for each thing worth knowing from the bot itself (start, platforms, rate limits, refusals,
    periodic passes); libraries only warn. ``-v`` tells more, libraries included. In the terminal
    (the console), only warnings: the conversation is what matters there."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ours = logging.DEBUG if args.verbose else logging.INFO
    for name in ("bot", "adapters", "voisinage"):
        logging.getLogger(name).setLevel(logging.WARNING if console and not args.verbose else ours)


async def _open(config: Config, database: str):
    from sqlite3 import Error as SQLiteError

    from bot.assemble import open_core

    folder = Path(database).expanduser().resolve().parent
    if not database.startswith(("postgresql://", "postgres://")) and not folder.is_dir():
        raise StartError(f"the database folder {folder} does not exist (--database or deployment.database)")
    try:
        return await open_core(config, database=database)
    except (OSError, SQLiteError) as exc:
        raise StartError(f"the database {database} cannot be opened ({exc})") from None


async def _serve(config: Config, args: argparse.Namespace) -> None:
    database = args.database or config.deployment.database
    core = await _open(config, database)
    try:
        adapters = [] if args.console else await _platform_adapters(core, config)
        if adapters:
            await _serve_platforms(core, adapters)
        else:
            await _serve_console(core, Path(f"{database}.console.json"))
    finally:
        await core.db.close()


async def _platform_adapters(core, config: Config) -> list:
    """Adapters for every platform with credentials. Each module's ``start`` attaches to the core."""
    from adapters.base import StartFailed

    adapters = []
    try:
        if config.telegram.token:
            from adapters import telegram

            adapters.append(await telegram.start(core, config))
        m = config.matrix
        if m.homeserver and (m.appservice or m.access_token or m.password):
            from adapters import matrix

            adapters.append(await matrix.start(core, config))
    except StartFailed as exc:
        for adapter in adapters:
            with contextlib.suppress(Exception):
                await adapter.close()
        raise StartError(str(exc)) from None
    return adapters


async def _serve_platforms(core, adapters: list) -> None:
    from bot.core.workers import Worker, serve_adapter
    from bot.operations import heartbeat, web

    worker = Worker(core)  # several `voisinage run` on one database share the work: bot/core/workers.py
    worker.share_rates()
    await worker.beat()
    tasks = [asyncio.create_task(core.run_dispatcher()), asyncio.create_task(core.scheduler.run_forever()),
             asyncio.create_task(heartbeat.run(core, adapters)), asyncio.create_task(worker.run())]
    for adapter in adapters:
        tasks.extend(asyncio.create_task(job) for job in serve_adapter(core, worker, adapter))
    server = await web.serve(core) if core.config.web.enabled else None
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await worker.stop()
        if server is not None:
            await server.cleanup()
        for adapter in adapters:
            with contextlib.suppress(Exception):
                await adapter.close()


async def _serve_console(core, state_file: Path) -> None:
    from datetime import timedelta

    from adapters.console import ConsoleAdapter, ConsoleState, run_console
    from bot.core.clock import ShiftedClock
    from bot.operations import heartbeat

    state = ConsoleState.load(state_file)
    core.clock = ShiftedClock(timedelta(seconds=state.clock_offset))  # /clock moves it (console only)
    adapter = ConsoleAdapter(state, core.t_default)
    core.attach(adapter)
    beating = asyncio.create_task(heartbeat.run(core, []))
    try:
        await run_console(core, adapter)
    finally:
        beating.cancel()


if __name__ == "__main__":
    sys.exit(main())
