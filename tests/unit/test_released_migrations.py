"""Migrations that have shipped are history: existing databases hold their version number and will only
ever run files numbered above it (SQLite's ``user_version``, PostgreSQL's ``schema_version``).

Two mistakes this catches before they reach a deployment:
- a new migration numbered below the highest released one (session 4's helpers were told 092 and 095
  when 100 had shipped: every existing database would have skipped them, silently);
- a released migration edited in place (databases that ran it never see the edit).

When a branch with a new migration lands on main, add its file and fingerprint below (the failure
message prints the line to add).
"""

from __future__ import annotations

import hashlib
from importlib import resources

from bot.storage.database import _MIGRATION_NAME

RELEASED = {
    "001_foundation.sql": "540aff0c744beeae",
    "002_roles.sql": "4a2893805e5a5879",
    "003_outbox_order.sql": "1e70567adb421f95",
    "010_activities.sql": "529522b15d003d27",
    "020_checkins.sql": "d35e3ab6b1553944",
    "030_moderation.sql": "71d84d28682375cd",
    "040_telegram.sql": "718f2880a3abc08b",
    "050_matrix.sql": "aa93cb9b8fa087b8",
    "061_inbox_outbox_ids.postgresql.sql": "27d213c8d19daf2d",
    "061_inbox_outbox_ids.sql": "c7d4bfd6fe3c5ca9",
    "065_organizer_place_decisions.sql": "105214c508537c99",
    "066_matrix_room_inviter.sql": "5f39afea9adbf3ed",
    "067_keyed_ban_hashes.sql": "029f5ced4b0472e1",
    "075_circle_waits.sql": "788d4b1f54df02de",
    "081_checkin_ladder.postgresql.sql": "983c1f1e9bdd90e6",
    "081_checkin_ladder.sql": "c569f0bb285ae9e0",
    "090_operations.sql": "e536c1028958ea44",
    "091_outbox_classes.sql": "0530f9f4cad4a0c5",
    "100_posters.sql": "f8ab8f8c75450ad5",
    "101_appservice_transactions.sql": "fb328071cee9ecdf",
    "102_worker_leases.sql": "b22b3ee206e40f48",
    "103_insertion_order.postgresql.sql": "3aef6682f312c1df",
    "103_insertion_order.sql": "2dfaf40d659302e8",
    "104_circle_wait_news.sql": "967eda957853d6fb",
}


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def migration_files() -> dict[str, bytes]:
    folder = resources.files("bot.storage").joinpath("migrations")
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if _MIGRATION_NAME.match(entry.name)}


def number(name: str) -> int:
    return int(name[:3])


def problems(files: dict[str, bytes]) -> list[str]:
    """What is wrong with this set of migration files, as sentences for the failure message."""
    found = []
    for name, expected in RELEASED.items():
        if name not in files:
            found.append(f"{name} has shipped: databases ran it; it cannot be removed or renamed")
        elif fingerprint(files[name]) != expected:
            found.append(f"{name} has shipped and was edited: databases that ran it will never see the change; "
                         "write the change as a new migration")
    highest = max(number(name) for name in RELEASED)
    for name in sorted(set(files) - set(RELEASED)):
        if number(name) <= highest:
            found.append(f"{name} is numbered at or below {highest:03d}, the highest released migration: an "
                         f"existing database would never run it; number it {highest + 1:03d} or above")
    return found


def test_released_migrations_are_untouched_and_new_ones_come_after_them() -> None:
    files = migration_files()
    assert problems(files) == []
    for name in sorted(set(files) - set(RELEASED)):
        print(f'new migration, add to RELEASED once on main: "{name}": "{fingerprint(files[name])}",')


def test_the_guard_catches_each_mistake() -> None:
    """The check fed the mistakes it exists for: a late low number, an edit, a removal."""
    files = migration_files()
    late = files | {"092_late.sql": b"CREATE TABLE late (id INTEGER);"}
    assert [p[:12] for p in problems(late)] == ["092_late.sql"]
    edited = files | {"090_operations.sql": files["090_operations.sql"] + b"\n-- tweak\n"}
    assert "was edited" in " ".join(problems(edited))
    removed = {k: v for k, v in files.items() if k != "010_activities.sql"}
    assert "cannot be removed" in " ".join(problems(removed))
    following = max(number(name) for name in RELEASED) + 1
    assert problems(files | {f"{following:03d}_next.sql": b"SELECT 1;"}) == []
