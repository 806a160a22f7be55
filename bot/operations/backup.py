"""``voisinage backup FILE`` and ``voisinage restore FILE``, with SQLite's online backup API.

The backup is a consistent copy even while the bot runs: SQLite copies every page inside one read
transaction (WAL lets the bot go on writing meanwhile). A restore replaces the database's content
the same way, page by page through SQLite (never a file copy beside a live WAL), and only when the bot
is stopped: the running process writes a heartbeat, and a fresh one refuses the restore.
On PostgreSQL, use pg_dump and pg_restore instead.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.storage import runtime

REQUIRED_TABLES = {"people", "inbox", "outbox", "circles"}


class BackupError(Exception):
    """Something the person must fix (a wrong file, a running bot), said plainly."""


def backup(database: Path, target: Path) -> int:
    """Copy ``database`` to ``target`` (which must not exist); returns the size in bytes."""
    if not database.exists():
        raise BackupError(f"no database at {database}")
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name (nothing was overwritten)")
    _copy(database, target)
    check_backup(target)
    return target.stat().st_size


def check_backup(path: Path) -> int:
    """That a file is a whole Voisinage database; returns its schema version."""
    if not path.exists():
        raise BackupError(f"no file at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is damaged (SQLite's integrity check failed)")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a Voisinage backup ({exc})") from None
    missing = REQUIRED_TABLES - tables
    if missing:
        raise BackupError(f"{path} is not a Voisinage backup (it has no {', '.join(sorted(missing))})")
    return version


def running_since(database: Path, now: datetime | None = None) -> str | None:
    """Which process runs on this database ("pid@host"), when its heartbeat is fresh; else None."""
    if not database.exists():
        return None
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value, updated_at FROM runtime WHERE key = 'process'").fetchone()
    except sqlite3.OperationalError:  # a database from before the runtime table
        return None
    finally:
        conn.close()
    if row is None:
        return None
    seen = datetime.fromisoformat(row[1])
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return row[0] if runtime.alive(seen, now or datetime.now(UTC)) else None


def restore(source: Path, database: Path, *, force: bool = False) -> int:
    """Replace the database's content with a backup's; returns the backup's schema version. The bot's
    next start brings an older backup up to date (migrations run at start)."""
    version = check_backup(source)
    running = running_since(database)
    if running and not force:
        raise BackupError(
            f"the bot is running on {database} ({running}): stop it first (systemctl stop voisinage), "
            "then restore"
        )
    _copy(source, database)
    return version


def _copy(source: Path, target: Path) -> None:
    """Page by page through SQLite, inside one read transaction of the source: a consistent copy even
    while another process writes (WAL lets it go on), and a target that SQLite itself wrote."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writing = sqlite3.connect(target)
        try:
            reading.backup(writing)
        finally:
            writing.close()
    finally:
        reading.close()
