"""Where a person stands in a guided conversation, stored so that a restart resumes there."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.clock import to_iso
from bot.storage.database import Database


@dataclass
class Conversation:
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def get(db: Database, person_id: int) -> Conversation | None:
    row = await db.fetchone("SELECT flow, step, data FROM conversations WHERE person_id = ?", (person_id,))
    return Conversation(row["flow"], row["step"], json.loads(row["data"])) if row else None


async def put(db: Database, person_id: int, conv: Conversation, now: datetime) -> None:
    await db.execute(
        "INSERT INTO conversations (person_id, flow, step, data, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (person_id) DO UPDATE SET flow = excluded.flow, step = excluded.step, "
        "data = excluded.data, updated_at = excluded.updated_at",
        (person_id, conv.flow, conv.step, json.dumps(conv.data, ensure_ascii=False), to_iso(now)),
    )


async def clear(db: Database, person_id: int) -> None:
    await db.execute("DELETE FROM conversations WHERE person_id = ?", (person_id,))


async def offer_choices(db: Database, platform: str, chat_id: str, choices: list[tuple[str, str]]) -> None:
    """Remember the buttons just shown in a chat, so a typed number or label can stand for a press."""
    await db.write_later(
        "offered_choices",
        "INSERT INTO offered_choices (platform, chat_id, choices) VALUES (?, ?, ?) "
        "ON CONFLICT (platform, chat_id) DO UPDATE SET choices = excluded.choices",
        (platform, chat_id, json.dumps(choices, ensure_ascii=False)),
    )


async def offered_choices(db: Database, platform: str, chat_id: str) -> list[tuple[str, str]]:
    row = await db.fetchone(
        "SELECT choices FROM offered_choices WHERE platform = ? AND chat_id = ?", (platform, chat_id)
    )
    return [tuple(c) for c in json.loads(row["choices"])] if row else []  # type: ignore[misc]


async def forget_choices(db: Database, platform: str, chat_id: str) -> None:
    await db.write_later(
        "offered_choices", "DELETE FROM offered_choices WHERE platform = ? AND chat_id = ?", (platform, chat_id)
    )


async def offer_choices_many(db: Database, offers: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
    """``offer_choices`` for many chats in one statement (platform, chat id, choices): a daily pass that
    asks thousands of people must not pay one round trip each."""
    await db.executemany(
        "INSERT INTO offered_choices (platform, chat_id, choices) VALUES (?, ?, ?) "
        "ON CONFLICT (platform, chat_id) DO UPDATE SET choices = excluded.choices",
        [(platform, chat_id, json.dumps(choices, ensure_ascii=False)) for platform, chat_id, choices in offers],
    )
