"""``voisinage run | init | check-config`` — the commands a volunteer types.

``run`` serves every platform that has credentials in the environment (Telegram, Matrix); with none,
it talks in the terminal through the console adapter, with the embedded SQLite database — so the
first run on a fresh machine needs nothing but Python.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from bot.core.config import DEFAULTS_FILE, Config, ConfigError, load_config

log = logging.getLogger("voisinage")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voisinage", description="Voisinage, the neighbourhood bot.")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "init":
        return init(args.config)
    if command == "check-config":
        return check_config(args.config)
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
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"Wrote {path}. Edit it, then: voisinage run --config {path}")
    return 0


def _load(path: Path | None) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as err:
        print(f"Configuration problem in {err.key}: {err.problem}.\n  Example: {err.example}", file=sys.stderr)
        return None


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
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = _load(args.config)
    if config is None:
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args))
    return 0


async def _serve(config: Config, args: argparse.Namespace) -> None:
    from bot.core.app import open_core

    database = args.database or config.deployment.database
    core = await open_core(config, database=database)
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
    adapters = []
    if config.telegram.token:
        from adapters import telegram

        adapters.append(await telegram.start(core, config))
    if config.matrix.homeserver and (config.matrix.access_token or config.matrix.password):
        from adapters import matrix

        adapters.append(await matrix.start(core, config))
    return adapters


async def _serve_platforms(core, adapters: list) -> None:
    tasks = [asyncio.create_task(core.run_dispatcher()), asyncio.create_task(core.scheduler.run_forever())]
    for adapter in adapters:
        tasks.append(asyncio.create_task(adapter.run(core)))
        tasks.append(asyncio.create_task(core.run_delivery(adapter.platform)))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for adapter in adapters:
            with contextlib.suppress(Exception):
                await adapter.close()


async def _serve_console(core, state_file: Path) -> None:
    from datetime import timedelta

    from adapters.console import ConsoleAdapter, ConsoleState, run_console
    from bot.core.clock import ShiftedClock

    state = ConsoleState.load(state_file)
    core.clock = ShiftedClock(timedelta(seconds=state.clock_offset))  # /clock moves it (console only)
    adapter = ConsoleAdapter(state, core.t_default)
    core.attach(adapter)
    await run_console(core, adapter)


if __name__ == "__main__":
    sys.exit(main())
