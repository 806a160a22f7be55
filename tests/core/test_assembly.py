"""Each Core carries its own registrations: two cores in one process never see each other's."""

from __future__ import annotations

from pathlib import Path

from bot.assemble import FEATURES, build_core
from bot.core.clock import FakeClock
from bot.storage.database import Database


def _registrations(core) -> dict[str, int]:
    hooks = core.hooks
    return {
        "commands": len(core.router.commands), "flows": len(core.router.flows), "actions": len(core.router.actions),
        "gates": len(hooks.gates), "exporters": len(hooks.exporters), "erasers": len(hooks.erasers),
        "room hooks": len(hooks.group), "moderator actions": len(hooks.moderator_actions),
        "moderator help": len(hooks.moderator_help), "jobs": len(core.scheduler.jobs),
    }


async def test_two_cores_in_one_process_keep_their_own_registrations(tmp_path: Path, config, content) -> None:
    """Reproduces the module-level lists of before: a second core doubled the first one's gates and
    exporters, and a gate added to one core held newcomers back in every other."""
    first = build_core(config, await Database.open(tmp_path / "a.sqlite3"), content, FakeClock())
    second = build_core(config, await Database.open(tmp_path / "b.sqlite3"), content, FakeClock())
    try:
        assert _registrations(first) == _registrations(second)
        assert all(_registrations(first).values()), _registrations(first)  # every kind is used by a feature

        async def closed(ctx, stage: str) -> bool:
            return False

        first.hooks.gate(closed)
        assert closed in first.hooks.gates and closed not in second.hooks.gates
    finally:
        await first.db.close()
        await second.db.close()


async def test_a_core_without_features_knows_no_command(tmp_path: Path, config, content) -> None:
    """The core itself registers nothing: every command comes from a feature package's install()."""
    from bot.core.app import Core

    core = Core(config, await Database.open(tmp_path / "c.sqlite3"), content, FakeClock())
    try:
        assert not core.router.commands and not core.hooks.gates and not core.scheduler.jobs
        assert len(FEATURES) >= 5
    finally:
        await core.db.close()
