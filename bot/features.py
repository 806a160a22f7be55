"""The features the core installs, in order. A new feature module adds itself here.

Each module has ``install(core)``, which registers its commands, flows, actions and hooks on
``core.router`` (and ``core.group_hooks``), so the core itself never changes when a feature is added.
"""

from __future__ import annotations

from types import ModuleType


def _all() -> list[ModuleType]:
    from bot import conversation_hooks, onboarding, privacy, profile

    return [onboarding, profile, privacy, conversation_hooks]


class _Lazy:
    """Imported on first use: feature modules import the core's types, the core imports this list."""

    def __iter__(self):
        return iter(_all())


ALL = _Lazy()
