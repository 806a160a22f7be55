"""The command-line side of ``bot.operations``: ``voisinage admin | backup | restore | status``.

Each says what it did in one plain line, and a mistake (a wrong account, a missing file, a running
bot under a restore) in one plain line on stderr with exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from pathlib import Path

from bot.core.config import Config, ConfigError, load_config
from bot.operations import admins, backup, status
from bot.storage.database import Database


def operate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _refuse(f"Configuration problem in {err.key}: {err.problem}.\n  Example: {err.example}")
    named = args.database or config.deployment.database
    on_postgresql = named.startswith(("postgresql://", "postgres://"))
    database = named if on_postgresql else Path(named)
    try:
        if on_postgresql and args.command in ("backup", "restore"):
            return _refuse("On PostgreSQL, backups are pg_dump's job: pg_dump -Fc 'postgresql://…' > voisinage.dump "
                           "(and pg_restore to put one back); `voisinage backup` copies SQLite files.")
        if args.command == "backup":
            size = backup.backup(database, args.file)
            print(f"Backed up {database} to {args.file} ({size:,} bytes). Restore with: voisinage restore {args.file}")
        elif args.command == "restore":
            version = backup.restore(args.file, database, force=args.force)
            print(f"Restored {args.file} into {database} (schema {version}); the next start brings it up to date.")
        elif args.command == "poster":
            return asyncio.run(_poster(args, config, database))
        elif args.command == "status":
            if not on_postgresql:
                _need(database)
            print(asyncio.run(_status(database, config)))
        else:
            return asyncio.run(_admin(args, config, database))
    except (backup.BackupError, admins.AccountError) as err:
        return _refuse(str(err))
    except (sqlite3.Error, OSError) as err:
        return _refuse(f"{database}: {err}")
    return 0


def migrate_db(args: argparse.Namespace) -> int:
    """``voisinage migrate-db --from sqlite:PATH --to postgresql://…``: counts per table, or one line why not."""
    from bot.operations.migrate_db import MigrateError, migrate

    try:
        config = load_config(args.config)
    except ConfigError as err:
        return _refuse(f"Configuration problem in {err.key}: {err.problem}.\n  Example: {err.example}")
    try:
        counts = asyncio.run(migrate(args.source, args.target, replace=args.replace,
                                     password_env=config.deployment.database_password_env or None))
    except (MigrateError, RuntimeError, OSError, sqlite3.Error) as err:
        return _refuse(f"migrate-db: {err}")
    print(f"Copied {sum(counts.values()):,} rows in {len(counts)} tables into {args.target.split('@')[-1]}.")
    return 0


async def _open(database: Path | str, config: Config) -> Database:
    """The deployment's database: an SQLite file, or PostgreSQL with the password the configuration names."""
    return await Database.open(database, password_env=config.deployment.database_password_env or None)


def _refuse(text: str) -> int:
    print(text, file=sys.stderr)
    return 2


def _need(database: Path) -> None:
    if not database.exists():
        raise backup.BackupError(f"no database at {database} (give --database, or --config with deployment.database)")


async def _status(database: Path | str, config: Config) -> str:
    db = await _open(database, config)
    try:
        return status.render(await status.gather(db))
    finally:
        await db.close()


async def _poster(args: argparse.Namespace, config: Config, database: Path | str) -> int:
    """``voisinage poster --place belleville [--organizer NAME] --out FILE``: for a town hall, from a shell.
    The poster is recorded like one asked for in the chat, so its link counts the neighbours it brings.
    A mistake (an unknown neighbourhood, no bot address) is refused before the database is touched."""
    from bot.activities import check_poster_command_line, poster_for_command_line
    from bot.assemble import build_core
    from bot.core.app import Content

    if args.out.exists():
        return _refuse(f"{args.out} already exists; choose another file name.")
    content = Content.load(config)
    try:
        check_poster_command_line(config, content, args.place)
    except ValueError as err:
        return _refuse(f"No poster: {err}.")
    core = build_core(config, await _open(database, config), content)
    try:
        place, pdf, joins = await poster_for_command_line(core, args.place, args.organizer, core.clock.now())
    finally:
        await core.db.close()
    args.out.write_bytes(pdf)
    print(f"Wrote {args.out} ({len(pdf):,} bytes): an A4 poster and an A6 card for {place.name}. "
          f"{joins} neighbour(s) joined through this poster's link so far.")
    return 0


async def _admin(args: argparse.Namespace, config: Config, database: Path | str) -> int:
    if args.action in ("add", "remove"):
        admins.parse_account(args.account)  # refused before a database is created for nothing
    db = await _open(database, config)
    try:
        if args.action == "add":
            new = await admins.add(db, args.account)
            print(f"{args.account} is {'now' if new else 'already'} an admin. They can write /modhelp to the bot.")
        elif args.action == "remove":
            if not await admins.remove(db, args.account):
                configured = args.account in config.deployment.admins
                where = " (it is named in the configuration file: remove it there)" if configured else ""
                return _refuse(f"{args.account} was not added with `voisinage admin add`{where}; nothing changed.")
            print(f"{args.account} is no longer an admin.")
        else:
            print(_admin_lines(await admins.everyone(db, config)))
    finally:
        await db.close()
    return 0


def _admin_lines(found: list[tuple[str, str]]) -> str:
    if not found:
        return "No admin yet. Add the first one with: voisinage admin add telegram:123456789"
    return "Admins:\n" + "\n".join(f"  {account} ({origin})" for account, origin in found)


def show_admins(config: Config, database: Path) -> None:
    """For check-config: who may do everything (the database is only read, never created here)."""

    async def read() -> list[tuple[str, str]]:
        if not database.exists():
            return await admins.everyone(None, config)
        db = await Database.open(database)
        try:
            return await admins.everyone(db, config)
        finally:
            await db.close()

    print(_admin_lines(asyncio.run(read())))
