"""Check-ins through the whole core: the pass asks, answers close, silence escalates once, /quiet lists.

The clock starts on Wednesday 25 November 2026 at 10:00 UTC (11:00 in Paris); the pass runs daily at
10:00 Paris time, never between 21:00 and 09:00.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.checkins.rounds import daily_pass
from bot.core import roles
from bot.core.chat import ChoiceIn, TextIn
from bot.storage import checkins as store
from bot.storage import people
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


async def person_id(hood: Neighbours, user: str) -> int:
    person = await people.by_identity(hood.core.db, "fake", user)
    assert person is not None
    return person.id


async def make_host(hood: Neighbours, user: str) -> None:
    async with hood.core.db.transaction():
        await hood.core.db.execute("UPDATE circle_members SET role = 'host' WHERE person_id = ?",
                                   (await person_id(hood, user),))


async def make_moderator(hood: Neighbours, user: str, place: str = "nb:belleville") -> None:
    async with hood.core.db.transaction():
        await roles.grant_moderator(hood.core.db, await person_id(hood, user), place, None, hood.clock.now())


async def place_of(hood: Neighbours, user: str) -> str:
    person = await people.by_identity(hood.core.db, "fake", user)
    assert person is not None and person.place_id
    return person.place_id


async def live(hood: Neighbours, hours: int = 0, days: int = 0) -> None:
    """Let time pass the way the bot lives it: a scheduler tick every hour, deliveries settled."""
    for _ in range(hours + 24 * days):
        hood.clock.advance(hours=1)
        await hood.core.scheduler.tick()
        await hood.core.settle()


def checkin_messages(hood: Neighbours, user: str) -> list:
    return [m for m in hood.platform.to(f"dm:{user}") if any(c.payload.startswith("checkin:fine:") for c in m.choices)]


def with_button(hood: Neighbours, user: str, prefix: str) -> list:
    return [m for m in hood.platform.to(f"dm:{user}") if any(c.payload.startswith(prefix) for c in m.choices)]


async def quiet_list(hood: Neighbours, user: str) -> str:
    out = await hood.say(user, "/calme")
    return out[-1].text


async def three_neighbours(hood: Neighbours) -> None:
    """Alice goes quiet; Bob hosts her circle; Mo moderates Belleville."""
    for user in ("alice", "bob", "mo"):
        await hood.join(user)
    await make_host(hood, "bob")
    await make_moderator(hood, "mo", await place_of(hood, "alice"))


async def keep_active(hood: Neighbours, *users: str) -> None:
    async with hood.core.db.transaction():
        for user in users:
            await hood.core.db.execute("UPDATE people SET last_active_at = ? WHERE id = ?",
                                       (hood.clock.now().isoformat(timespec="seconds"), await person_id(hood, user)))


async def quiet_alice(hood: Neighbours, days: int = 11) -> None:
    """Bob and Mo stay active every day; Alice says nothing for ``days`` days."""
    for _ in range(days):
        await live(hood, hours=24)
        await keep_active(hood, "bob", "mo")


# ---- asking -------------------------------------------------------------------------------------------


async def test_a_quiet_member_is_asked_once_warmly_and_an_active_one_never(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    asked = checkin_messages(hood, "alice")
    assert len(asked) == 1
    assert "Est-ce que tout va bien" in asked[0].text
    assert [c.label for c in asked[0].choices] == [
        "Tout va bien 🙂", "J'aimerais bavarder un peu", "Je suis absent·e un moment", "Ne plus me demander"]
    assert not checkin_messages(hood, "bob") and not checkin_messages(hood, "mo")
    local = hood.clock.now()
    assert await daily_pass(hood.core, local) == 0  # run again: nothing opens twice
    await hood.core.settle()
    assert len(checkin_messages(hood, "alice")) == 1


async def test_all_is_well_closes_it_and_the_threshold_starts_again(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    out = await hood.press("alice", "Tout va bien 🙂")
    assert "Merci" in out[-1].text
    checkin = (await store.unresolved(hood.core.db, None)) or []
    assert checkin == []
    await quiet_alice(hood, 9)
    assert len(checkin_messages(hood, "alice")) == 1
    await quiet_alice(hood, 2)
    assert len(checkin_messages(hood, "alice")) == 2


async def test_pressing_twice_or_someone_elses_button_changes_nothing(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    payload = checkin_messages(hood, "alice")[0].choices[0].payload
    out = await hood.send("bob", ChoiceIn(payload))
    assert "n'est plus valable" in out[-1].text
    assert (await store.open_for(hood.core.db, await person_id(hood, "alice"))) is not None
    for forged in ("checkin:fine:99999", "checkin:nope:1", "checkin:fine:x", "checkin:fine:" + "9" * 20):
        out = await hood.send("alice", ChoiceIn(forged))
        assert "n'est plus valable" in out[-1].text, forged
    assert (await store.open_for(hood.core.db, await person_id(hood, "alice"))) is not None
    await hood.send("alice", ChoiceIn(payload))
    out = await hood.send("alice", ChoiceIn(payload))
    assert "déjà noté" in out[-1].text


# ---- no answer ------------------------------------------------------------------------------------------


async def test_no_answer_reminds_once_then_escalates_once_to_the_host(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    await live(hood, hours=25)
    reminders = [m for m in checkin_messages(hood, "alice") if "redemander" in m.text]
    assert len(reminders) == 1
    await live(hood, hours=24)
    escalations = with_button(hood, "bob", "checkin:ok:")
    assert len(escalations) == 1
    assert "Alice n'a pas répondu" in escalations[0].text and "passer le voir" in escalations[0].text
    await live(hood, hours=12)  # within the host's stage of the ladder (24 h)
    assert len(with_button(hood, "bob", "checkin:ok:")) == 1
    assert len([m for m in checkin_messages(hood, "alice") if "redemander" in m.text]) == 1
    assert "Bob (animateur du cercle)" in await quiet_list(hood, "mo")
    out = await hood.press("bob", "C'est fait, tout va bien")
    assert "Merci beaucoup" in out[-1].text
    assert "Personne en attente" in await quiet_list(hood, "mo")


async def test_writing_in_the_circle_counts_as_an_answer(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    room = hood.platform.room_of("alice")
    await hood.send("alice", TextIn("Coucou tout le monde"), chat=room)
    await live(hood, days=3)
    assert not with_button(hood, "bob", "checkin:ok:")
    checkins = await hood.core.db.fetchall("SELECT answer, escalated_at FROM checkins")
    assert [(r[0], r[1]) for r in checkins] == [("active", None)]


async def test_a_late_all_is_well_gives_the_host_an_all_clear(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    await live(hood, hours=49)
    assert with_button(hood, "bob", "checkin:ok:")
    await hood.press("alice", "checkin:fine:1")
    assert "Bonne nouvelle : Alice va bien" in hood.texts("bob")[-1]
    assert "Personne en attente" in await quiet_list(hood, "mo")


async def alice_asks_carla_to_be_her_contact(hood: Neighbours) -> None:
    """Through /profil, as a resident would: check-ins → a contact → her name."""
    await hood.say("alice", "/profil")
    await hood.press("alice", "profile.menu:checkins")
    await hood.press("alice", "onboarding.checkins:contact")
    await hood.say("alice", "Carla")


async def test_the_chosen_contact_comes_first_once_they_said_yes(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await hood.join("carla")
    await alice_asks_carla_to_be_her_contact(hood)
    await hood.press("carla", "contact:yes:" + str(await person_id(hood, "alice")))
    for _ in range(11):
        await live(hood, hours=24)
        await keep_active(hood, "bob", "mo", "carla")
    await live(hood, hours=49)
    assert len(with_button(hood, "carla", "checkin:ok:")) == 1
    assert not with_button(hood, "bob", "checkin:ok:")


async def test_could_not_reach_goes_to_the_moderators_with_human_services(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    await live(hood, hours=49)
    out = await hood.press("bob", "Je n'ai pas pu le/la joindre")
    assert "Solitud'écoute" in out[-1].text and "0 800 47 47 88" in out[-1].text
    alert = with_button(hood, "mo", "checkin:resolved:")
    assert len(alert) == 1 and "Bob n'a pas pu" in alert[0].text and "112" in alert[0].text
    unreached = with_button(hood, "bob", "checkin:unreached:")[0].choices[1].payload
    again = await hood.send("bob", ChoiceIn(unreached))
    assert "déjà noté" in again[-1].text
    assert len(with_button(hood, "mo", "checkin:resolved:")) == 1
    listing = await hood.say("mo", "/calme")
    assert "Pas pu être joints" in listing[-1].text
    assert any(c.label == "Réglé : Alice" for c in listing[-1].choices)
    await hood.press("mo", "Réglé : Alice")
    assert "Personne en attente" in await quiet_list(hood, "mo")


async def test_nobody_to_tell_is_recorded_once_and_waits_on_the_list(hood: Neighbours) -> None:
    await hood.join("alice")
    await hood.join("zoe")
    await live(hood, days=11)
    await live(hood, days=3)
    rows = await hood.core.db.fetchall("SELECT escalated_at, told_id FROM checkins")
    assert len(rows) == 2 and all(r[0] and r[1] is None for r in rows)


# ---- the other answers ------------------------------------------------------------------------------


async def test_i_would_like_a_chat_tells_the_host_and_says_who(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    out = await hood.press("alice", "J'aimerais bavarder un peu")
    assert "J'ai prévenu Bob" in out[-1].text
    assert "Alice aimerait bavarder" in hood.texts("bob")[-1]
    assert "Aimeraient bavarder" in await quiet_list(hood, "mo")
    await hood.press("bob", "C'est fait, on a parlé")
    assert "Personne en attente" in await quiet_list(hood, "mo")


async def test_away_asks_until_when_and_refuses_what_it_cannot_read(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    out = await hood.press("alice", "Je suis absent·e un moment")
    assert "Jusqu'à quand" in out[-1].text
    out = await hood.say("alice", "quand les poules auront des dents")
    assert "Je n'ai pas compris" in out[0].text and "Jusqu'à quand" in out[-1].text
    out = await hood.say("alice", "hier")
    assert "déjà passé" in out[0].text
    alice = await person_id(hood, "alice")
    assert await store.away_until(hood.core.db, alice) is None
    out = await hood.say("alice", "jusqu'au 20 décembre")
    assert "jusqu'au dimanche 20 décembre inclus" in out[-1].text
    assert await store.open_for(hood.core.db, alice) is None
    for _ in range(24):
        await live(hood, hours=24)
        await keep_active(hood, "bob", "mo")
    assert len(checkin_messages(hood, "alice")) == 1  # away until the 20th included, then ten quiet days
    await quiet_alice(hood, 2)
    assert len([m for m in checkin_messages(hood, "alice") if "redemander" not in m.text]) == 2


async def test_away_and_back_commands(hood: Neighbours) -> None:
    await hood.join("alice")
    alice = await person_id(hood, "alice")
    out = await hood.say("alice", "/absent 2 semaines")
    assert "mercredi 9 décembre inclus" in out[-1].text
    out = await hood.say("alice", "/absent dans mille ans")
    assert "Je n'ai pas compris" in out[0].text
    back_on = (await store.away_until(hood.core.db, alice)).astimezone(hood.core.config.deployment.zone)
    assert back_on.isoformat() == "2026-12-10T00:00:00+01:00"
    await hood.say("alice", "/annuler")
    out = await hood.say("alice", "/retour")
    assert "Bon retour" in out[-1].text
    out = await hood.say("alice", "/retour")
    assert "pas noté·e absent·e" in out[-1].text
    out = await hood.say("alice", "/away", lang="fr")
    assert "Jusqu'à quand" in out[-1].text
    out = await hood.press("alice", "Un mois")
    assert "inclus" in out[-1].text


async def test_stop_asking_turns_check_ins_off_for_good(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await quiet_alice(hood, 11)
    out = await hood.press("alice", "Ne plus me demander")
    assert "/profil" in out[-1].text
    assert not (await people.get(hood.core.db, await person_id(hood, "alice"))).checkins
    await live(hood, days=15)
    assert len(checkin_messages(hood, "alice")) == 1


# ---- scheduling ---------------------------------------------------------------------------------------


async def test_never_in_quiet_hours_and_a_missed_pass_runs_once(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await hood.core.scheduler.tick()
    hood.clock.set(datetime(2026, 12, 8, 22, 0, tzinfo=UTC))  # 23:00 in Paris, after 13 days down
    assert "checkins-pass" not in await hood.core.scheduler.tick()
    await hood.core.settle()
    assert not checkin_messages(hood, "alice")
    hood.clock.set(datetime(2026, 12, 9, 8, 0, tzinfo=UTC))  # 09:00 in Paris: quiet hours are over
    assert "checkins-pass" in await hood.core.scheduler.tick()
    assert "checkins-pass" not in await hood.core.scheduler.tick()
    await hood.core.settle()
    assert len(checkin_messages(hood, "alice")) == 1


async def test_unreachable_members_are_not_asked_but_listed(hood: Neighbours) -> None:
    await three_neighbours(hood)
    hood.platform.blocked.add("alice")
    await hood.say("mo", "/aide")  # something to deliver, so Alice's block is found on the next send
    async with hood.core.db.transaction():
        await people.mark_unreachable(hood.core.db, "fake", "dm:alice", hood.clock.now())
    await quiet_alice(hood, 11)
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM checkins") == 0
    assert "l'application ne peut plus le/la joindre" in await quiet_list(hood, "mo")


async def test_quiet_is_for_moderators_of_that_neighbourhood(hood: Neighbours) -> None:
    await three_neighbours(hood)
    await hood.join("ugo", "charonne")
    await make_moderator(hood, "ugo", await place_of(hood, "ugo"))
    await quiet_alice(hood, 11)
    out = await hood.say("bob", "/calme")
    assert "réservé aux bénévoles" in out[-1].text
    assert "Alice" in await quiet_list(hood, "mo")
    assert "Alice" not in await quiet_list(hood, "ugo")


async def test_the_pass_reads_an_index_not_every_member(hood: Neighbours) -> None:
    if hood.core.db.engine != "sqlite":
        pytest.skip("reads SQLite's query plan")
    moments = {"now": "2026-12-01T00:00:00+00:00", "cutoff": "2026-11-21T00:00:00+00:00"}
    plan = await hood.core.db.fetchall("EXPLAIN QUERY PLAN " + store.DUE_SQL, moments)
    details = " | ".join(r[3] for r in plan)
    assert "people_checkins_quiet" in details, details
    assert "SCAN p " not in details + " " and "SCAN people" not in details, details


# ---- helpers ------------------------------------------------------------------------------------------


async def pick_belleville(hood: Neighbours) -> list:
    """Hugo names Jeanne's neighbourhood (and picks it if asked which one); returns what he got."""
    out = await hood.say("hugo", "belleville")
    if any(c.payload.startswith("helper.place_pick") for c in out[-1].choices):
        out = await hood.press("hugo", "helper.place_pick:0")
    return out


async def register_jeanne(hood: Neighbours, command: str = "/aidant") -> None:
    """Hugo starts registering Jeanne, up to the question whether she agrees."""
    await hood.say("hugo", command)
    await hood.say("hugo", "Jeanne")
    await pick_belleville(hood)


async def test_a_helper_registers_a_neighbour_and_answers_seen_today(hood: Neighbours) -> None:
    await hood.join("hugo")
    out = await hood.say("hugo", "/aidant")
    assert "Quel est son prénom" in out[-1].text
    out = await hood.say("hugo", "x" * 80)
    assert "seulement un prénom" in out[-1].text
    await hood.say("hugo", "Jeanne")
    out = await hood.say("hugo", "zzzzqqqq")
    assert "Je ne trouve pas" in out[-1].text
    out = await pick_belleville(hood)
    assert "Jeanne est-il ou elle d'accord" in out[-1].text
    out = await hood.press("hugo", "Oui, Jeanne est d'accord")
    assert "Jeanne" in out[-1].text and "inscrit·e" in out[-1].text
    for _ in range(11):
        await live(hood, hours=24)
        await keep_active(hood, "hugo")
    asked = [m for m in hood.platform.to("dm:hugo") if "Jeanne" in m.text and "L'avez-vous vu·e" in m.text]
    assert len(asked) == 1
    out = await hood.press("hugo", "Vu·e aujourd'hui, tout va bien")
    assert "Merci d'avoir pris des nouvelles de Jeanne" in out[-1].text
    out = await hood.say("hugo", "/aidant")
    assert "Jeanne" in out[-1].text
    out = await hood.press("hugo", "👀 Jeanne vu·e aujourd'hui")
    assert "vu·e aujourd'hui" in out[-1].text


async def test_a_helper_who_says_not_yet_leaves_no_trace(hood: Neighbours) -> None:
    await hood.join("hugo")
    before = await hood.core.db.scalar("SELECT COUNT(*) FROM people")
    await register_jeanne(hood, command="/helper")
    out = await hood.press("hugo", "Pas encore")
    assert "rien n'est enregistré" in out[-1].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM people") == before


async def test_forget_erases_the_neighbours_a_helper_registered(hood: Neighbours) -> None:
    await hood.join("hugo")
    await register_jeanne(hood)
    await hood.press("hugo", "Oui, Jeanne est d'accord")
    hugo = await person_id(hood, "hugo")
    from bot.people.privacy import export

    data = await export(hood.core, hood.core.db, hugo)
    assert [h["first_name"] for h in data["helping"]] == ["Jeanne"]
    await hood.say("hugo", "/oublier")
    await hood.press("hugo", "forget:yes")
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM people WHERE first_name = 'Jeanne'") == 0


async def test_a_helper_who_does_not_answer_is_escalated_to_a_moderator(hood: Neighbours) -> None:
    await hood.join("hugo")
    await hood.join("mo")
    await make_moderator(hood, "mo", await place_of(hood, "hugo"))
    await register_jeanne(hood)
    await hood.press("hugo", "Oui, Jeanne est d'accord")
    for _ in range(13):
        await live(hood, hours=24)
        await keep_active(hood, "hugo", "mo")
    escalations = with_button(hood, "mo", "checkin:ok:")
    assert len(escalations) == 1
    assert "Hugo n'a pas répondu quand je lui ai demandé des nouvelles de Jeanne" in escalations[0].text
    assert not with_button(hood, "hugo", "checkin:ok:")
