"""What differs between SQLite and PostgreSQL, in one small explicit place.

The storage modules write one SQL for both engines: ``?`` placeholders, ``ON CONFLICT`` upserts and
``RETURNING`` (both engines have them), times as ISO 8601 text. Where the engines truly differ (a JSON
array parameter, string aggregation, the order rows were inserted in), the SQL asks its database's
``dialect`` for the fragment instead of spelling one engine's function. The only rewriting done behind
the code's back is mechanical and tested: ``?`` → ``$1, $2, …`` for asyncpg, and the migrations' column
types (``INTEGER`` → ``BIGINT``: epoch milliseconds and ids overflow PostgreSQL's 4-byte integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Dialect:
    """SQL fragments that cannot be written once for both engines."""

    name: str  # "sqlite" | "postgresql"

    def json_values(self, kind: type = str) -> str:
        """A sub-select of one column ``value``: the items of a JSON array given as one ``?`` parameter
        (one statement text whatever the number of items)."""
        if self.name == "sqlite":
            return "SELECT value FROM json_each(?)"
        cast = "BIGINT" if kind is int else "TEXT"
        return f"SELECT CAST(value AS {cast}) AS value FROM json_array_elements_text(CAST(? AS json))"

    def json_field(self, column: str, key: str, kind: type = str) -> str:
        """One top-level field of a JSON object stored as text."""
        if self.name == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        cast = "BIGINT" if kind is int else "TEXT"
        return f"CAST(CAST({column} AS json) ->> '{key}' AS {cast})"

    def group_concat(self, expression: str, separator: str) -> str:
        """Aggregate text values of a group into one string (``separator`` is an SQL expression)."""
        name = "group_concat" if self.name == "sqlite" else "string_agg"
        return f"{name}({expression}, {separator})"

    def char(self, code: int) -> str:
        """The character with this code point, as an SQL expression."""
        return f"char({code})" if self.name == "sqlite" else f"chr({code})"

    def contains(self, haystack: str, needle: str) -> str:
        """A condition: ``needle`` occurs in ``haystack`` (no LIKE wildcards to escape)."""
        function = "instr" if self.name == "sqlite" else "strpos"
        return f"{function}({haystack}, {needle}) > 0"

    def unindexed(self, column: str) -> str:
        """``column`` in a condition the planner must not answer from an index on it: SQLite's unary
        plus (a text column on PostgreSQL has no unary plus, and its planner weighs indexes by itself)."""
        return f"+{column}" if self.name == "sqlite" else column

    @property
    def insertion_order(self) -> str:
        """A column that orders a table's rows as they were inserted, for tables without an id: SQLite's
        rowid; on PostgreSQL the ``seq`` column migration 103 adds (a heap's ctid moves on UPDATE)."""
        return "rowid" if self.name == "sqlite" else "seq"


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")

# Tokens the placeholder rewriter must step over: quoted strings and identifiers (a '?' inside them is
# text, not a parameter), comments, and the placeholders themselves.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|::|:[A-Za-z_]\w*|\?", re.DOTALL)


@lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (asyncpg's style), leaving any ``?`` inside a string literal,
    a quoted identifier or a comment alone."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _TOKENS.sub(replace, sql)


@lru_cache(maxsize=256)
def numbered_named(sql: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` placeholders (SQLite's named style, given a dict) → ``$1, $2, …``; returns the SQL and
    the names in the order of their numbers (a name used twice keeps one number)."""
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if not token.startswith(":") or token == "::":
            return token
        if token[1:] not in names:
            names.append(token[1:])
        return f"${names.index(token[1:]) + 1}"

    return _TOKENS.sub(replace, sql), tuple(names)


_IDENTITY = re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE)
_TYPES = {
    re.compile(r"\bINTEGER\b", re.IGNORECASE): "BIGINT",
    re.compile(r"\bREAL\b", re.IGNORECASE): "DOUBLE PRECISION",
    re.compile(r"\bBLOB\b", re.IGNORECASE): "BYTEA",
}


def postgresql_ddl(sql: str) -> str:
    """A migration written for SQLite, with PostgreSQL's column types: an ``id INTEGER PRIMARY KEY``
    (SQLite's rowid alias, which numbers rows by itself) becomes an identity column, and the remaining
    INTEGER/REAL/BLOB become BIGINT/DOUBLE PRECISION/BYTEA. Anything else must already be portable; a
    migration that is not has a ``NNN_name.postgresql.sql`` file beside it instead."""
    sql = _IDENTITY.sub("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    for pattern, replacement in _TYPES.items():
        sql = pattern.sub(replacement, sql)
    return sql
