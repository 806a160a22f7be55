"""Circle rooms: mirror neighbours' words across platforms and follow who leaves."""

from __future__ import annotations

from bot import membership


def install(core) -> None:  # noqa: ANN001
    core.group_hooks.append(membership.on_circle_event)
