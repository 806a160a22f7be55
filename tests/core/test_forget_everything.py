"""/forget forgets: someone who used every feature, on Telegram and on Matrix, is erased; then every
table is searched for their account ids, chat ids, name and the words they wrote."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.memory import MemoryPlatform
from adapters.telegram import store as telegram_store
from bot.assemble import build_core
from bot.core import roles
from bot.core.chat import CommandIn, TextIn
from bot.core.clock import FakeClock, to_iso
from bot.storage import inbox, people, sanctions
from bot.storage.database import Database
from tests.core.activity_helpers import type_event
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)

TELEGRAM_ID, MATRIX_ID = "770012345", "@josiane.v:hs.example"
NAME = "Josiane"
WORDS = ["Tarte aux mirabelles de Josiane", "Atelier confiture Josiane", "Les Confitures Josiane",
         "Josiane parle trop fort", "12 rue des Cascades Josiane"]


@pytest.fixture
async def both(tmp_path: Path, config, content) -> AsyncIterator[tuple[Neighbours, Neighbours]]:
    """One core serving two platforms, as ``voisinage run`` with Telegram and Matrix credentials."""
    db = await Database.open(tmp_path / "both.sqlite3")
    clock = FakeClock()
    core = build_core(config, db, content, clock)
    tg, mx = MemoryPlatform(platform="telegram"), MemoryPlatform(platform="matrix")
    core.attach(tg)
    core.attach(mx)
    yield Neighbours(core, tg, clock), Neighbours(core, mx, clock)
    await db.close()


async def join(hood: Neighbours, user: str, name: str) -> None:
    await hood.say(user, "/start", name=name)
    await hood.press(user, "onboarding.consent:yes")
    out = await hood.say(user, "belleville")
    if out and out[-1].choices and out[-1].choices[0].payload.startswith("onboarding.place_pick"):
        await hood.press(user, "onboarding.place_pick:0")
    await hood.press(user, "onboarding.interests:done")
    await hood.press(user, "onboarding.checkins:host")


async def tables(db: Database) -> dict[str, str]:
    """Every table's rows, as text to search."""
    return {t: json.dumps([tuple(r) for r in await db.fetchall(f"SELECT * FROM {t}")], ensure_ascii=False,
                          default=str) for t in await db.tables()}


async def everything(db: Database) -> str:
    return "\n".join(f"{name}: {rows}" for name, rows in (await tables(db)).items())


async def use_every_feature(tg: Neighbours, mx: Neighbours) -> None:
    core = tg.core
    await join(tg, "mod", "Modeste")
    async with core.db.transaction():
        await roles.grant_moderator(core.db, (await people.by_identity(core.db, "telegram", "mod")).id,
                                    "nb:belleville", None, tg.clock.now())
    await join(mx, "bob", "Bob")
    await join(tg, TELEGRAM_ID, NAME)
    await join(mx, MATRIX_ID, NAME)
    # talk in the circle (mirrored to the other platform's room), on both platforms
    await tg.send(TELEGRAM_ID, TextIn(WORDS[0]), chat=tg.platform.room_of(TELEGRAM_ID))
    await mx.send(MATRIX_ID, TextIn(WORDS[0]), chat=mx.platform.room_of(MATRIX_ID))
    # an organizer with an event and a feed
    await tg.say(TELEGRAM_ID, "/organisateur")
    await tg.say(TELEGRAM_ID, WORDS[2])
    await tg.press(TELEGRAM_ID, "Un commerce")
    await tg.press(TELEGRAM_ID, "organizer.places:done")
    await tg.say(TELEGRAM_ID, WORDS[4])
    await tg.press("mod", "⭐ Accepter, publie sans validation")
    await type_event(tg, TELEGRAM_ID, title=WORDS[1])
    await tg.say(TELEGRAM_ID, "/importer https://calendrier.example/josiane.ics")
    # answers, choices and absences
    await mx.say(MATRIX_ID, "/programme")
    await mx.send(MATRIX_ID, CommandIn("resume", ""))
    await mx.say(MATRIX_ID, "/absent 2 semaines")
    await tg.say(TELEGRAM_ID, "/profil")
    await tg.press(TELEGRAM_ID, "profile.menu:interests")
    await tg.press(TELEGRAM_ID, "Lecture")
    await tg.press(TELEGRAM_ID, "onboarding.interests:done")
    await tg.press(TELEGRAM_ID, "profile.menu:done")
    # a helper registering a neighbour without a phone
    await tg.say(TELEGRAM_ID, "/aidant")
    await tg.say(TELEGRAM_ID, "Ondine")
    out = await tg.say(TELEGRAM_ID, "belleville")
    if any(c.payload.startswith("helper.place_pick") for c in out[-1].choices):
        await tg.press(TELEGRAM_ID, "helper.place_pick:0")
    await tg.press(TELEGRAM_ID, "Oui, Ondine est d'accord")
    # reported by a neighbour, warned by the moderator
    await mx.send("bob", CommandIn("signaler", "", reply_to_user=MATRIX_ID, reply_to_text=WORDS[3]),
                  chat=mx.platform.room_of("bob"))
    await mx.say(MATRIX_ID, "/mesdonnees")
    # what the platforms' own records keep (written as the real adapters write them)
    async with core.db.transaction():
        await telegram_store.record_invite(core.db, "https://t.me/+abc", "-100777", TELEGRAM_ID, tg.clock.now())
        await core.db.execute(
            "INSERT INTO telegram_strangers (chat_id, user_id, first_name, circle_id, seen_at) VALUES (?, ?, ?, ?, ?)",
            ("-100777", TELEGRAM_ID, NAME, 1, to_iso(tg.clock.now())))
        await core.db.execute("INSERT INTO matrix_rooms (room_id, invited_by) VALUES ('!dm:hs', ?)", (MATRIX_ID,))
        await inbox.reject(core.db, "telegram", "upd-1", json.dumps({"message": {"from": {"id": int(TELEGRAM_ID)},
                           "text": WORDS[0]}}), "unreadable", tg.clock.now())


async def test_forget_on_both_platforms_leaves_nothing(both) -> None:
    """Reproduces: after /forget the person stayed in the circle's rooms (the erase dropped the removal it
    had just queued), sent and failed outbox rows kept their chat id, unreadable updates kept their raw
    text, and the Telegram invite and stranger tables and Matrix rooms kept their account ids."""
    tg, mx = both
    await use_every_feature(tg, mx)
    before = await everything(tg.core.db)
    for needle in (TELEGRAM_ID, MATRIX_ID, f"dm:{TELEGRAM_ID}", NAME, *WORDS):
        assert needle in before, needle  # the search below can find each of them
    tg_room, mx_room = tg.platform.room_of(TELEGRAM_ID), mx.platform.room_of(MATRIX_ID)
    assert tg_room and mx_room
    for hood, user in ((tg, TELEGRAM_ID), (mx, MATRIX_ID)):
        await hood.say(user, "/oublier")
        await hood.press(user, "forget:yes")
    assert TELEGRAM_ID not in tg.platform.rooms[tg_room] and MATRIX_ID not in mx.platform.rooms[mx_room]
    assert "bob" in mx.platform.rooms[mx_room]  # the others stay
    tg.clock.advance(hours=2)  # the hourly retention pass: what is left of the goodbyes loses its chat
    await tg.core.scheduler.tick()
    await tg.core.settle()
    needles = (TELEGRAM_ID, MATRIX_ID, NAME, *WORDS, hashlib.sha256(f"telegram:{TELEGRAM_ID}".encode()).hexdigest())
    found = {(table, n) for table, rows in (await tables(tg.core.db)).items() for n in needles if n in rows}
    rows = [tuple(r) for r in await tg.core.db.fetchall("SELECT * FROM outbox")]
    assert found == set(), [r for r in rows if any(n in json.dumps(r, default=str) for n in needles)]


async def test_a_ban_outlives_forget_as_a_keyed_hash_only(both) -> None:
    """Reproduces: bans kept a plain SHA-256 of "telegram:<numeric id>", which anyone could reverse by
    trying every id. Now a keyed hash with this deployment's secret, and old bans still work."""
    tg, _ = both
    db = tg.core.db
    await join(tg, TELEGRAM_ID, NAME)
    person = await people.by_identity(db, "telegram", TELEGRAM_ID)
    async with db.transaction():
        await sanctions.ban(db, person.id, [("telegram", TELEGRAM_ID)], "nb:belleville", "", person.id,
                            tg.clock.now())
    await tg.say(TELEGRAM_ID, "/oublier")
    await tg.press(TELEGRAM_ID, "forget:yes")
    after = await everything(db)
    assert hashlib.sha256(f"telegram:{TELEGRAM_ID}".encode()).hexdigest() not in after
    async with db.transaction():
        secret = await sanctions.deployment_secret(db)
        assert await sanctions.deployment_secret(db) == secret and len(secret) == 32  # generated once
        assert await sanctions.is_banned(db, "telegram", TELEGRAM_ID)
        assert not await sanctions.is_banned(db, "telegram", "770012346")
    out = await tg.say(TELEGRAM_ID, "/start")  # back after /forget: still kept out, and nothing kept
    assert "ne peut plus rejoindre" in out[-1].text
    assert await people.by_identity(db, "telegram", TELEGRAM_ID) is None


async def test_bans_from_before_keyed_hashes_still_hold_and_are_rewritten(both) -> None:
    """A ban stored with the old plain hash (before migration 067) still recognises the account, and is
    rewritten as a keyed hash the first time the account is seen."""
    tg, _ = both
    db = tg.core.db
    legacy = hashlib.sha256(f"telegram:{TELEGRAM_ID}".encode()).hexdigest()
    async with db.transaction():
        ban_id = await db.insert("INSERT INTO bans (place_id, created_at) VALUES ('nb:belleville', ?)",
                                 (to_iso(tg.clock.now()),))
        await db.execute("INSERT INTO banned_accounts (ban_id, account) VALUES (?, ?)", (ban_id, legacy))
        assert await sanctions.is_banned(db, "telegram", TELEGRAM_ID)
    assert await db.scalar("SELECT scheme FROM banned_accounts") == "hmac"
    assert legacy not in await everything(db)


async def test_retention_erases_who_never_consented_and_blanks_what_expired(both) -> None:
    """Reproduces: someone who wrote once and never said yes was kept for ever; a message interrupted by
    a crash kept its text; an unreadable update was kept raw for ever."""
    tg, _ = both
    db, clock = tg.core.db, tg.clock
    await tg.say("passant", "/start", name="Passant")
    await join(tg, "ana", "Ana")
    async with db.transaction():
        await db.execute(
            "INSERT INTO outbox (platform, kind, chat_id, payload, status, error, not_before, created_at) "
            "VALUES ('telegram', 'message', 'dm:ana', ?, 'failed', 'interrupted mid-send; may have arrived', ?, ?)",
            ('{"text": "secret words"}', to_iso(clock.now()), to_iso(clock.now())))
        await inbox.reject(db, "telegram", "upd-9", '{"text": "raw words"}', "unreadable", clock.now())
    clock.advance(days=2)
    await tg.core.scheduler.tick()
    assert await people.by_identity(db, "telegram", "passant") is not None  # still time to say yes
    text = await everything(db)
    assert "secret words" not in text and "raw words" in text
    clock.advance(days=6)
    await tg.core.scheduler.tick()
    await tg.core.settle()
    assert await people.by_identity(db, "telegram", "passant") is None
    assert (await people.by_identity(db, "telegram", "ana")).onboarded
    text = await everything(db)
    assert "raw words" not in text and "Passant" not in text and "dm:passant" not in text
