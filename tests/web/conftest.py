"""The web tests reuse the core's fixtures: a fresh database per test, the in-memory platform, a clock."""

from tests.core.conftest import config, content, hood  # noqa: F401
