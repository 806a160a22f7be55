"""Moderation through the dispatcher: roles and scopes, reports, bans, circles, announcements, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.chat import ChoiceIn, CommandIn, TextIn
from tests.core.moderation_helpers import dump, neighbours, person_id, setup_roles, with_admin

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


@pytest.fixture
async def mods(tmp_path, config, content):
    hood = await neighbours(tmp_path, with_admin(config), content)
    hood.ids = await setup_roles(hood)
    yield hood
    await hood.core.db.close()


def last(hood, user: str) -> str:
    return hood.platform.last(f"dm:{user}").text


# ---- the table test: every privileged command, every lesser or out-of-scope role -------------------

# (command with arguments, who is refused). Arguments point into Belleville, so otto (moderator of
# Charonne) is out of scope; alice hosts a Belleville circle, bob and carol are residents; mona is a
# moderator, which is not enough for the admin-only commands.
def privileged(ids: dict[str, int]) -> list[tuple[str, tuple[str, ...]]]:
    everyone = ("bob", "carol", "alice", "otto")
    a, b = ids["alice"], ids["bob"]
    return [
        ("/circles belleville", everyone),
        ("/cercles", ("bob", "carol", "alice")),
        ("/circle 1", ("bob", "carol", "otto")),
        (f"/move #{b} 1", everyone),
        ("/merge 1 2", everyone),
        ("/split 1", everyone),
        (f"/host #{b}", everyone),
        (f"/unhost #{a}", everyone),
        (f"/moderator #{b} belleville", (*everyone, "mona")),
        (f"/unmoderator #{ids['mona']} belleville", (*everyone, "mona", "otto")),
        (f"/ban #{b} spam", everyone),
        ("/unban 1", everyone),
        ("/bans", ("bob", "carol", "alice")),
        ("/reports", ("bob", "carol", "alice")),
        ("/announce Fête des voisins samedi", ("bob", "carol", "alice")),
        ("/stats belleville", everyone),
        ("/audit", ("bob", "carol", "alice")),
        ("/modhelp", ("bob", "carol")),
    ]


async def test_every_privileged_command_is_refused_to_lesser_and_out_of_scope_roles(mods) -> None:
    # a Belleville ban to lift, so /unban has something real to refuse
    await mods.join("dan", "belleville")
    await mods.say("admin", f"/ban #{await person_id(mods, 'dan')} test")
    ban_no = await mods.core.db.scalar("SELECT MAX(id) FROM bans")
    refusals = ("Seul", "Seuls")
    checked = 0
    for command, refused in privileged(mods.ids):
        command = command.replace("/unban 1", f"/unban {ban_no}")
        for user in refused:
            before = await dump(mods.core.db)
            out = await mods.say(user, command)
            assert out, (command, user)
            assert out[-1].text.startswith(refusals), (command, user, out[-1].text)
            assert "Rien n'a été changé" in out[-1].text
            assert await dump(mods.core.db) == before, (command, user)
            checked += 1
    assert checked >= 60


async def test_refusal_says_who_can(mods) -> None:
    out = await mods.say("otto", f"/ban #{mods.ids['bob']}")
    assert "modérateur de Belleville" in out[-1].text
    out = await mods.say("mona", f"/moderator #{mods.ids['bob']} belleville")
    assert "administrateur" in out[-1].text


# ---- circles ------------------------------------------------------------------------------------


async def test_circles_and_circle_details(mods) -> None:
    out = await mods.say("mona", "/cercles")
    assert "Belleville · 1" in out[-1].text and "animateurs : Alice" in out[-1].text
    assert "Charonne" not in out[-1].text
    circle = await mods.core.db.scalar("SELECT circle_id FROM circle_members WHERE person_id = ?",
                                       (mods.ids["alice"],))
    out = await mods.say("alice", f"/cercle {circle}")  # a host sees their own circle
    assert "Bob (#" in out[-1].text and "animateur" in out[-1].text
    out = await mods.say("mona", "/circle 999")
    assert "pas de cercle" in out[-1].text


async def test_move_merge_split_are_scoped_and_audited(mods) -> None:
    db = mods.core.db
    for user in ("dan", "eve", "fay", "gus", "hal", "ivy", "jo"):
        await mods.join(user, "belleville")
    one = await db.scalar("SELECT id FROM circles WHERE place_id = 'nb:belleville' ORDER BY id LIMIT 1")
    size = await db.scalar("SELECT COUNT(*) FROM circle_members WHERE circle_id = ?", (one,))
    out = await mods.say("mona", f"/split {one}")
    assert "a été scindé" in out[-1].text
    new = await db.scalar("SELECT MAX(id) FROM circles")
    moved = await db.scalar("SELECT COUNT(*) FROM circle_members WHERE circle_id = ?", (new,))
    assert 0 < moved < size
    staying = await db.scalar("SELECT person_id FROM circle_members WHERE circle_id = ? LIMIT 1", (one,))
    out = await mods.say("mona", f"/move #{staying} {new}")
    assert "est maintenant dans le cercle" in out[-1].text
    assert await db.scalar("SELECT circle_id FROM circle_members WHERE person_id = ?", (staying,)) == new
    out = await mods.say("mona", f"/move #{mods.ids['carol']} {new}")  # carol is in Charonne
    assert "Seul un modérateur de Charonne" in out[-1].text
    out = await mods.say("mona", f"/merge {new} {one}")
    assert "a rejoint" in out[-1].text
    assert await db.scalar("SELECT status FROM circles WHERE id = ?", (new,)) == "merged"
    actions = [r[0] for r in await db.fetchall("SELECT action FROM audit ORDER BY id")]
    assert {"moderator", "host", "split", "move", "merge"} <= set(actions)
    out = await mods.say("mona", "/journal")
    assert "a fusionné" in out[-1].text and "Mona (#" in out[-1].text


async def test_bad_arguments_get_a_clear_answer_and_change_nothing(mods) -> None:
    for command in ("/move", "/move #999999 1", "/move bob", "/merge 1", "/merge 1 1", "/split", "/split abc",
                    "/host", "/host nobody", "/ban", "/unban", "/unban 77", "/announce", "/stats nowhere-land",
                    "/circles atlantis", "/circle", "/announce " + "x" * 2000):
        before = await dump(mods.core.db)
        out = await mods.say("mona", command)
        assert out and out[-1].text, command
        assert await dump(mods.core.db) == before, command


# ---- reports, warnings, bans ----------------------------------------------------------------------


async def test_three_warnings_remove_a_member(mods) -> None:
    db = mods.core.db
    for reporter in ("bob", "bob", "bob"):
        out = await mods.say(reporter, "/signaler Alice elle insulte tout le monde")
        assert "Merci" in out[-1].text, out[-1].text
        notice = mods.platform.last("dm:mona")
        assert "Signalement" in notice.text and "insulte" in notice.text
        await mods.press("mona", "Avertir")
    assert await db.scalar("SELECT COUNT(*) FROM warnings WHERE person_id = ?", (mods.ids["alice"],)) == 3
    assert await db.scalar("SELECT 1 FROM circle_members WHERE person_id = ?", (mods.ids["alice"],)) is None
    assert "3e avertissement" in last(mods, "mona")
    assert any("avertissement 3 sur 3" in t for t in mods.texts("alice"))


async def test_report_by_reply_in_the_room_stays_private(mods) -> None:
    room = mods.platform.room_of("bob")
    before_room = len(mods.platform.to(room))
    await mods.send("bob", CommandIn("signaler", "", reply_to_user="alice", reply_to_text="va te faire voir"),
                    chat=room)
    assert len(mods.platform.to(room)) == before_room  # nothing said in the circle
    assert "Merci" in last(mods, "bob")
    report = await mods.core.db.fetchone("SELECT text, reported_id FROM reports")
    assert tuple(report) == ("va te faire voir", mods.ids["alice"])
    out = await mods.say("mona", "/signalements")
    assert "va te faire voir" in out[-1].text
    await mods.press("mona", "Classer")
    assert "classé" in last(mods, "mona")
    await mods.send("mona", ChoiceIn("mod:r:1:b"))  # pressed again: already handled
    assert "déjà été traité" in last(mods, "mona")


async def test_out_of_scope_moderator_cannot_press_a_report_button(mods) -> None:
    await mods.say("bob", "/signaler Alice spam")
    before = await dump(mods.core.db)
    out = await mods.send("otto", ChoiceIn("mod:r:1:b"))
    assert "modérateur de Belleville" in out[-1].text
    assert await dump(mods.core.db) == before


async def test_ban_blocks_rejoining_even_after_forget_and_unban_reopens(mods) -> None:
    room = mods.platform.room_of("bob")
    out = await mods.say("mona", "/bannir Bob spam répété")
    assert "est banni" in out[-1].text
    assert any("retiré des cercles" in t for t in mods.texts("bob"))
    assert (room, "bob") in mods.platform.banned and "bob" not in mods.platform.rooms[room]
    out = await mods.say("bob", "/start")
    assert "ne peut plus rejoindre" in out[-1].text
    await mods.say("bob", "/oublier")
    await mods.press("bob", "forget:yes")
    assert await person_id(mods, "bob") is None
    out = await mods.say("bob", "/start")
    assert "ne peut plus rejoindre" in out[-1].text
    assert await person_id(mods, "bob") is None  # nothing kept about a banned stranger
    ban = await mods.core.db.scalar("SELECT MAX(id) FROM bans")
    out = await mods.say("mona", f"/debannir {ban}")
    assert "est levé" in out[-1].text
    await mods.join("bob", "belleville")
    assert mods.platform.room_of("bob")


async def test_nobody_bans_an_admin_or_themselves(mods) -> None:
    await mods.join("admin", "belleville")
    for target in ("admin", "mona"):
        out = await mods.say("mona", f"/ban #{mods.ids[target]}")
        assert "ne peut pas être banni" in out[-1].text


# ---- announcements, stats ------------------------------------------------------------------------


async def test_announce_reaches_every_circle_of_the_neighbourhood_only(mods) -> None:
    out = await mods.say("mona", "/annonce Fête des voisins <b>samedi</b>")
    assert "Annonce envoyée à 1 cercle" in out[-1].text
    room = mods.platform.room_of("bob")
    said = mods.platform.last(room).text
    assert "Fête des voisins &lt;b&gt;samedi&lt;/b&gt;" in said
    assert all("Fête" not in m.text for m in mods.platform.to(mods.platform.room_of("carol")))


async def test_stats_text_and_a_real_png_chart(mods) -> None:
    import io

    from PIL import Image

    await mods.send("bob", TextIn("bonjour"), chat=mods.platform.room_of("bob"))
    out = await mods.say("mona", "/stats")
    assert "Membres : 3" in out[-2].text and "Actifs cette semaine" in out[-2].text
    chart = out[-1].attachment
    assert chart is not None and chart.mime_type == "image/png"
    assert chart.data.startswith(b"\x89PNG\r\n\x1a\n") and 5_000 < len(chart.data) < 500_000
    image = Image.open(io.BytesIO(chart.data))
    image.load()
    assert image.size == (900, 600)


async def test_stats_tell_admins_how_often_platforms_refused_the_bot(mods) -> None:
    """Rate-limit refusals (Matrix's M_LIMIT_EXCEEDED, Telegram's 429) were only in /metrics: an admin
    on a homeserver that limits the bot saw slow answers and no reason. Moderators are not shown it."""
    def said(out) -> str:  # the figures, whatever comes after them (the chart, a question taken up again)
        return "\n".join(m.text for m in out)

    out = await mods.say("admin", "/stats")
    assert "Limites de débit des plateformes depuis le démarrage : aucune." in said(out)
    mods.core.counters.add("rate_limited", 3, platform="matrix")
    out = await mods.say("admin", "/stats")
    assert "Refus pour limite de débit depuis le démarrage : matrix 3" in said(out)
    out = await mods.say("mona", "/stats")
    assert out and "limite de débit" not in said(out)  # mona, a moderator, gets the figures without it


async def test_the_stats_chart_is_drawn_outside_the_write_transaction(mods, monkeypatch) -> None:
    """Reproduces: /stats drew its chart (a good part of a second of CPU) inside the handler's write
    transaction, and polling, delivery and the scheduler all waited for it. Now it is drawn after the
    transaction committed, by the delivery worker, and still arrives once, after the figures."""
    from bot.moderation import stats

    db = mods.core.db
    drawn: list[bool] = []
    real_chart = stats.chart

    def watched_chart(*args):
        drawn.append(db._depth > 0 or db._lock.locked())  # inside a transaction (or its turn)?
        return real_chart(*args)

    monkeypatch.setattr(stats, "chart", watched_chart)
    out = await mods.say("mona", "/stats")
    assert drawn == [False]
    assert "Membres" in out[-2].text and out[-1].attachment is not None
    assert len([m for m in mods.platform.to("dm:mona") if m.attachment]) == 1
    assert await db.scalar("SELECT status FROM outbox WHERE kind = 'work'") == "sent"


# ---- privacy and retention ------------------------------------------------------------------------


async def test_mydata_and_forget_cover_reports_and_warnings(mods) -> None:
    import json

    await mods.say("bob", "/signaler Alice spam")
    await mods.press("mona", "Avertir")
    await mods.say("alice", "/mesdonnees")
    export = json.loads(mods.platform.last("dm:alice").attachment.data)
    assert export["reports_about_me"][0]["text"] == "spam"
    assert "reporter_id" not in export["reports_about_me"][0]
    assert len(export["warnings"]) == 1
    await mods.say("alice", "/oublier")
    await mods.press("alice", "forget:yes")
    db = mods.core.db
    assert await db.scalar("SELECT COUNT(*) FROM reports") == 0
    assert await db.scalar("SELECT COUNT(*) FROM warnings") == 0
    assert await db.scalar("SELECT COUNT(*) FROM audit WHERE target = ?", (f"person:{mods.ids['alice']}",)) == 0


async def test_reports_are_deleted_after_the_retention(mods) -> None:
    await mods.say("bob", "/signaler Alice spam")
    await mods.core.scheduler.tick()
    assert await mods.core.db.scalar("SELECT COUNT(*) FROM reports") == 1
    mods.clock.advance(days=91)
    assert "moderation-retention" in await mods.core.scheduler.tick()
    assert await mods.core.db.scalar("SELECT COUNT(*) FROM reports") == 0


async def test_host_is_told_and_words_held(mods) -> None:
    seen = []

    async def spy(core, room):
        seen.append(room.event.body)

    mods.core.hooks.on_room_event(spy)
    room = mods.platform.room_of("bob")
    mods.clock.advance(hours=25)  # no longer newcomers
    await mods.send("bob", TextIn("quel connard"), chat=room)
    assert seen == [] and "pas été transmis" in last(mods, "bob")
    assert timedelta  # (imported for the clock advances above)


async def test_hosts_and_moderators_get_power_in_the_circle_room(tmp_path, config, content) -> None:
    """Where rooms have power levels (Matrix), a circle host gets 50 and loses it again; a moderator
    placed in a circle of their neighbourhood gets 50 too."""
    from tests.core.moderation_helpers import neighbours, setup_roles, with_admin

    hood = await neighbours(tmp_path, with_admin(config), content)
    try:
        ids = await setup_roles(hood)
        room = hood.platform.room_of("alice")
        assert hood.platform.powers[(room, "alice")] == 50
        await hood.say("mona", f"/unhost #{ids['alice']}")
        assert hood.platform.powers[(room, "alice")] == 0
        assert (room, "bob") not in hood.platform.powers
        await hood.say("admin", f"/moderator #{ids['carol']} belleville")
        await hood.say("carol", "/profil")  # the new moderator of Belleville moves there
        await hood.press("carol", "Quartier")
        await hood.say("carol", "belleville")
        carol_room = hood.platform.room_of("carol")
        assert hood.platform.powers[(carol_room, "carol")] == 50
    finally:
        await hood.core.db.close()
