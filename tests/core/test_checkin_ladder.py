"""Care that never stops: after an escalation the person is asked again, the ladder of people told
moves on, nobody is told about themself or while they cannot act, and check-in messages wait for
the morning. Through the whole core, with the movable clock (see ``test_checkins`` for the setting).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.chat import ChoiceIn, CommandIn, TextIn
from bot.storage import checkins as store
from tests.core.conftest import Neighbours
from tests.core.moderation_helpers import neighbours, with_admin
from tests.core.test_checkins import (
    alice_asks_carla_to_be_her_contact,
    checkin_messages,
    keep_active,
    live,
    make_moderator,
    person_id,
    place_of,
    quiet_alice,
    quiet_list,
    three_neighbours,
    with_button,
)

PARIS = ZoneInfo("Europe/Paris")


async def the_checkin(hood: Neighbours, user: str = "alice") -> store.Checkin:
    rows = await hood.core.db.fetchall("SELECT id FROM checkins WHERE person_id = ? ORDER BY id DESC",
                                       (await person_id(hood, user),))
    found = await store.get(hood.core.db, rows[0][0])
    assert found is not None
    return found


async def escalated_alice(hood: Neighbours, *also: str) -> None:
    """Alice is asked, says nothing for 48 hours, and Bob (her host) is told. Bob, Mo (and ``also``)
    stay active."""
    await three_neighbours(hood)
    for _ in range(11):
        await live(hood, hours=24)
        await keep_active(hood, "bob", "mo", *also)
    await live(hood, hours=49)
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1


def asks(hood: Neighbours, user: str = "alice") -> list:
    """The check-ins asked (not their reminders)."""
    return [m for m in checkin_messages(hood, user) if "redemander" not in m.text]


def paris_time(hood: Neighbours) -> datetime:
    return hood.clock.now().astimezone(PARIS)


async def set_paris_hour(hood: Neighbours, hour: int, minute: int = 0) -> None:
    """Move the clock forward to the next ``hour``:``minute`` in Paris (ticking every hour on the way)."""
    local = paris_time(hood)
    target = local.replace(hour=hour, minute=minute, second=0)
    if target <= local:
        target += timedelta(days=1)
    while hood.clock.now() + timedelta(hours=1) <= target:
        await live(hood, hours=1)
    hood.clock.set(target.astimezone(hood.clock.now().tzinfo))


async def audit_rows(hood: Neighbours) -> list[tuple[str, str, str]]:
    rows = await hood.core.db.fetchall("SELECT action, target, details FROM audit ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


# ---- after an escalation, the person shows life ------------------------------------------------------


async def test_writing_in_the_circle_after_an_escalation_closes_it_and_she_is_asked_again(hood: Neighbours) -> None:
    """Reproduces: Alice, escalated, writes in her circle; the check-in stayed open, Bob never heard
    she was fine, and she was never asked again."""
    await escalated_alice(hood)
    await hood.send("alice", TextIn("Me revoilà, j'étais chez ma fille"), chat=hood.platform.room_of("alice"))
    await live(hood, hours=1)
    checkin = await the_checkin(hood)
    assert checkin.closed_at is not None and checkin.answer == "active" and checkin.resolved_at is not None
    assert any("Bonne nouvelle : Alice va bien" in text for text in hood.texts("bob"))
    assert "Personne en attente" in await quiet_list(hood, "mo")
    await quiet_alice(hood, 11)  # the next silence
    assert len(asks(hood)) == 2


async def test_a_typed_ca_va_after_an_escalation_thanks_her_at_once(hood: Neighbours) -> None:
    """Reproduces: "ça va" typed privately got "Je suis le robot…" and counted only a day later."""
    await escalated_alice(hood)
    out = await hood.say("alice", "Oui ça va, merci !")
    assert "Merci, ça fait plaisir" in out[-1].text and "Je suis le robot" not in out[-1].text
    checkin = await the_checkin(hood)
    assert checkin.answer == "fine" and checkin.closed_at is not None
    assert "Bonne nouvelle : Alice va bien" in hood.texts("bob")[-1]


async def test_the_button_after_an_escalation_still_closes_it(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await live(hood, hours=30)  # the ladder moved on to Mo meanwhile
    assert with_button(hood, "mo", "checkin:ok:")
    await hood.send("alice", ChoiceIn(checkin_messages(hood, "alice")[0].choices[0].payload))
    assert (await the_checkin(hood)).answer == "fine"
    assert "Bonne nouvelle : Alice va bien" in hood.texts("bob")[-1]
    assert "Bonne nouvelle : Alice va bien" in hood.texts("mo")[-1]


async def test_ca_va_pas_is_a_wish_to_chat_never_all_is_well(hood: Neighbours) -> None:
    """Was: "ça va pas très fort" got the robot's hint (and, with the buttons on screen, "ça va pas"
    pressed "Tout va bien"). Now it asks for a chat, and a later "ok" does not turn it into "fine"."""
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    out = await hood.say("alice", "ça va pas très fort")
    assert "Je suis le robot" not in out[-1].text and "J'ai prévenu Bob" in out[-1].text
    assert (await the_checkin(hood)).answer == "chat"
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]
    out = await hood.say("alice", "ok")  # a chat is asked for: "ok" is just a message now
    assert "Je suis le robot" in out[-1].text
    assert (await the_checkin(hood)).answer == "chat"


# ---- the ladder moves on -----------------------------------------------------------------------------


async def test_the_ladder_moves_on_each_stage_once_then_closes_with_the_services(hood: Neighbours) -> None:
    """Reproduces: when the host told did nothing, nothing else happened, and the check-in stayed
    open for good."""
    await escalated_alice(hood)
    await live(hood, hours=20)
    assert not with_button(hood, "mo", "checkin:ok:")  # the host's stage is not over
    await live(hood, hours=5)
    to_mo = with_button(hood, "mo", "checkin:ok:")
    assert len(to_mo) == 1 and "D'autres personnes ont été prévenues" in to_mo[0].text
    assert (await the_checkin(hood)).closed_at is None
    await live(hood, hours=25)  # no admin: the last stage
    checkin = await the_checkin(hood)
    assert checkin.closed_at is not None and checkin.outcome == "services" and checkin.resolved_at is None
    note = with_button(hood, "mo", "checkin:resolved:")
    assert len(note) == 1 and "Solitud'écoute" in note[0].text
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1 and len(with_button(hood, "mo", "checkin:ok:")) == 1
    listing = await hood.say("mo", "/calme")
    assert "Pas pu être joints" in listing[-1].text
    await live(hood, days=3)
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1  # nobody twice
    await quiet_alice(hood, 8)
    assert len(asks(hood)) == 2  # asked again after the next silence


async def test_bob_can_still_settle_after_the_ladder_moved_on(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await live(hood, hours=26)
    out = await hood.send("bob", ChoiceIn(with_button(hood, "bob", "checkin:ok:")[0].choices[0].payload))
    assert "Merci beaucoup" in out[-1].text
    assert "Bonne nouvelle : Alice va bien" in hood.texts("mo")[-1]  # Mo was told too: she hears it is settled
    assert (await the_checkin(hood)).resolved_at is not None


async def test_could_not_reach_moves_the_ladder_on_at_once(hood: Neighbours) -> None:
    """Reproduces: after "Je n'ai pas pu le/la joindre" the check-in stayed open when no moderator
    pressed "Réglé"."""
    await escalated_alice(hood)
    await hood.press("bob", "Je n'ai pas pu le/la joindre")
    assert len(with_button(hood, "mo", "checkin:resolved:")) == 1
    await live(hood, hours=1)
    checkin = await the_checkin(hood)
    assert checkin.closed_at is not None and checkin.outcome == "services"  # Mo was alerted; no admin left
    assert len(with_button(hood, "mo", "checkin:resolved:")) == 1  # the alert had the services: no second note
    await hood.send("alice", TextIn("Coucou"), chat=hood.platform.room_of("alice"))
    await live(hood, hours=1)
    assert (await the_checkin(hood)).resolved_at is not None  # she wrote: off the list, all told
    assert "Bonne nouvelle : Alice va bien" in hood.texts("mo")[-1]
    assert "Bonne nouvelle : Alice va bien" in hood.texts("bob")[-1]


async def test_an_admin_is_the_last_person_told(tmp_path, config, content) -> None:
    hood = await neighbours(tmp_path, with_admin(config), content)
    try:
        await hood.join("admin")
        await escalated_alice(hood, "admin")
        await keep_active(hood, "admin")
        await live(hood, hours=25)
        assert with_button(hood, "mo", "checkin:ok:")
        await keep_active(hood, "admin")
        await live(hood, hours=25)
        assert len(with_button(hood, "admin", "checkin:ok:")) == 1
        assert (await the_checkin(hood)).stage == "admin"
        await live(hood, hours=25)
        assert (await the_checkin(hood)).outcome == "services"
    finally:
        await hood.core.db.close()


# ---- nobody told about themself, or while they cannot act --------------------------------------------


async def test_a_quiet_only_moderator_is_never_told_about_herself(tmp_path, config, content) -> None:
    """Reproduces: the only moderator of a neighbourhood went quiet and the escalations about her went
    to her. Now the ladder passes over her (and says so in /journal), the admin is told, and her
    check-in closes at the last stage."""
    hood = await neighbours(tmp_path, with_admin(config), content)
    try:
        for user in ("admin", "mo", "bob"):
            await hood.join(user)
        await make_moderator(hood, "mo", await place_of(hood, "mo"))
        for _ in range(11):
            await live(hood, hours=24)
            await keep_active(hood, "admin", "bob")
        await live(hood, hours=49)
        about_mo = [m for m in hood.platform.to("dm:mo") if any(c.payload.startswith(("checkin:ok:",
                    "checkin:resolved:")) for c in m.choices)]
        assert about_mo == []
        assert len(with_button(hood, "admin", "checkin:ok:")) == 1
        mo = await person_id(hood, "mo")
        assert ("checkin-skipped", f"person:{mo}", "modérateur, c'est de cette personne qu'il s'agit (vérification "
                f"n° {(await the_checkin(hood, 'mo')).id})") in await audit_rows(hood)
        await live(hood, hours=25)
        assert (await the_checkin(hood, "mo")).closed_at is not None
        journal = await hood.say("admin", "/journal")
        assert "n'a pas prévenu Mo" in journal[-1].text
    finally:
        await hood.core.db.close()


async def test_a_contact_who_is_away_or_quiet_is_passed_over(hood: Neighbours) -> None:
    """Reproduces: a contact on /absent (or quiet for 10+ days) was still the one told."""
    await three_neighbours(hood)
    await hood.join("carla")
    await alice_asks_carla_to_be_her_contact(hood)
    await hood.press("carla", "contact:yes:" + str(await person_id(hood, "alice")))
    await hood.say("carla", "/absent 3 semaines")
    for _ in range(11):
        await live(hood, hours=24)
        await keep_active(hood, "bob", "mo")
    await live(hood, hours=49)
    assert not with_button(hood, "carla", "checkin:ok:")
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1
    carla = await person_id(hood, "carla")
    skipped = [d for a, t, d in await audit_rows(hood) if a == "checkin-skipped" and t == f"person:{carla}"]
    assert skipped and "absent" in skipped[0]
    journal = await hood.say("mo", "/journal")
    assert "n'a pas prévenu Carla" in journal[-1].text


async def test_a_host_who_went_quiet_is_passed_over(hood: Neighbours) -> None:
    await three_neighbours(hood)
    for _ in range(11):
        await live(hood, hours=24)
        await keep_active(hood, "mo")  # Bob, the host, is as quiet as Alice
    await live(hood, hours=49)
    assert not with_button(hood, "bob", "checkin:ok:")
    assert len(with_button(hood, "mo", "checkin:ok:")) >= 1


# ---- quiet hours for every check-in message ------------------------------------------------------------


async def test_a_chat_asked_for_at_night_reaches_the_contact_in_the_morning(hood: Neighbours) -> None:
    """Reproduces: "Alice aimerait bavarder…" went out at 21:13."""
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    await set_paris_hour(hood, 21, 13)
    out = await hood.press("alice", "J'aimerais bavarder un peu")
    assert "J'ai prévenu Bob" in out[-1].text and "Il est tard" in out[-1].text
    assert not any("aimerait bavarder" in text for text in hood.texts("bob"))
    answer = await hood.say("bob", "/aide")  # what Bob asks for himself at night is answered at once
    assert answer and "/pause" in answer[-1].text
    await set_paris_hour(hood, 8, 59)
    await hood.core.settle()
    assert not any("aimerait bavarder" in text for text in hood.texts("bob"))
    await set_paris_hour(hood, 9, 0)
    await hood.core.settle()
    assert any("aimerait bavarder" in text for text in hood.texts("bob"))


async def test_an_all_clear_at_night_waits_for_the_morning(hood: Neighbours) -> None:
    """Reproduces: "Bonne nouvelle : X va bien" went out at 01:06."""
    await escalated_alice(hood)
    await set_paris_hour(hood, 1, 6)
    await hood.send("alice", TextIn("Je ne dors pas"), chat=hood.platform.room_of("alice"))
    await live(hood, hours=1)
    assert (await the_checkin(hood)).closed_at is not None
    assert not any("Bonne nouvelle" in text for text in hood.texts("bob"))
    await set_paris_hour(hood, 9, 0)
    await hood.core.settle()
    assert sum("Bonne nouvelle : Alice va bien" in text for text in hood.texts("bob")) == 1


async def test_could_not_reach_at_night_alerts_the_moderators_in_the_morning(hood: Neighbours) -> None:
    """Reproduces: "could not reach" alerts went out at 21:09."""
    await escalated_alice(hood)
    await set_paris_hour(hood, 21, 9)
    out = await hood.press("bob", "Je n'ai pas pu le/la joindre")
    assert "Solitud'écoute" in out[-1].text  # Bob's own answer: at once
    assert not with_button(hood, "mo", "checkin:resolved:")
    await set_paris_hour(hood, 9, 0)
    await hood.core.settle()
    assert len(with_button(hood, "mo", "checkin:resolved:")) == 1


# ---- /pause -----------------------------------------------------------------------------------------


async def test_pause_stops_and_starts_check_ins_and_is_in_help(hood: Neighbours) -> None:
    await three_neighbours(hood)
    helped = await hood.say("alice", "/aide")
    assert "/pause" in helped[-1].text
    out = await hood.say("alice", "/calme")
    assert "/pause" in out[-1].text  # a resident looking for calm is shown the way
    out = await hood.say("alice", "/pause")
    assert "je ne vous demanderai plus" in out[-1].text
    await quiet_alice(hood, 12)
    assert asks(hood) == []
    out = await hood.say("alice", "/pause")
    assert "C'est reparti" in out[-1].text
    await quiet_alice(hood, 11)
    assert len(asks(hood)) == 1


async def test_pause_during_an_escalation_tells_who_was_told(hood: Neighbours) -> None:
    await escalated_alice(hood)
    await hood.say("alice", "/pause")
    checkin = await the_checkin(hood)
    assert checkin.closed_at is not None and checkin.answer == "stop"
    assert "Alice a répondu" in hood.texts("bob")[-1]


async def test_pause_in_english(hood: Neighbours) -> None:
    await hood.join("ann", lang="en")
    out = await hood.send("ann", CommandIn("pause", ""))
    assert "I will no longer ask" in out[-1].text
    out = await hood.say("ann", "/help")
    assert "/pause" in out[-1].text


async def test_a_stage_time_limit_comes_from_the_settings(tmp_path, config, content) -> None:
    settings = replace(config.checkins, stage_hours=6)
    hood = await neighbours(tmp_path, replace(config, checkins=settings), content)
    try:
        await escalated_alice(hood)
        await live(hood, hours=7)
        assert with_button(hood, "mo", "checkin:ok:")
    finally:
        await hood.core.db.close()


async def test_a_host_who_blocked_the_bot_is_passed_over_once_the_message_fails(hood: Neighbours) -> None:
    """Blocking the bot shows only when a message to them fails: the ladder then moves on at once
    instead of waiting for the end of the host's stage."""
    await three_neighbours(hood)
    hood.platform.blocked.add("bob")
    await quiet_alice(hood, 11)
    await live(hood, hours=50)
    assert with_button(hood, "mo", "checkin:ok:")
    assert (await the_checkin(hood)).stage == "moderator"


async def test_asking_a_neighbour_to_be_ones_contact_at_night_waits_for_the_morning(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await hood.join("carla")
    await set_paris_hour(hood, 22, 30)
    await alice_asks_carla_to_be_her_contact(hood)
    assert not with_button(hood, "carla", "contact:yes:")
    await set_paris_hour(hood, 9, 0)
    await hood.core.settle()
    assert len(with_button(hood, "carla", "contact:yes:")) == 1
