"""Organizers, /event, announcements, RSVPs, reminders, digest and /agenda through the fake platform."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.chat import ChoiceIn
from bot.storage import events, organizers, outbox, rsvps
from tests.core.activity_helpers import (
    apply_as_organizer,
    make_moderator,
    make_organizer,
    person_id,
    type_event,
)
from tests.core.conftest import Neighbours

pytestmark = pytest.mark.both_engines  # on SQLite and PostgreSQL (tests/engines.py)


async def state(hood: Neighbours) -> tuple:
    """What an answer must not change when it is refused."""
    db = hood.core.db
    return (await db.fetchall("SELECT id, status, title, starts_at FROM events"),
            await db.fetchall("SELECT * FROM organizers"), await db.fetchall("SELECT * FROM rsvps"))


async def test_trusted_organizer_publishes_and_neighbours_are_told_once(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await hood.join("bob", lang="en")
    await make_organizer(hood)
    out = await type_event(hood)
    assert "est publiée" in out[-1].text and "3 voisins" in out[-1].text
    alice = hood.platform.last("dm:alice")
    assert "Atelier tricot" in alice.text and "samedi 28 novembre à 15:00" in alice.text
    assert [c.payload for c in alice.choices] == ["rsvp:1:yes", "rsvp:1:maybe", "rsvp:1:ics"]
    bob = hood.platform.last("dm:bob")
    assert "Near you" in bob.text and "Saturday 28 November at 15:00" in bob.text
    assert [c.label for c in bob.choices] == ["✅ I'm going", "🤔 Maybe", "📅 Add to my calendar"]
    assert len(hood.platform.to("dm:shop")) == len([m for m in hood.platform.to("dm:shop") if "📣" not in m.text])
    # announcing again (a retried approval, a crash replay) queues nothing more
    event = await events.get(hood.core.db, 1)
    async with hood.core.db.transaction():
        from bot.activities import announcements
        assert await announcements.announce(hood.core, hood.core.db, event, hood.clock.now()) == 0
    rows = await hood.core.db.fetchall("SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE 'announce:%'")
    assert len(rows) == 3


async def test_an_untrusted_organizers_event_waits_for_a_moderator(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await make_organizer(hood, trusted=False)
    out = await type_event(hood)
    assert "attend la validation" in out[-1].text
    assert not any("📣" in m.text for m in hood.platform.to("dm:alice"))
    request = hood.platform.last("dm:mod")
    assert "attend votre validation" in request.text and "Atelier tricot" in request.text
    before = await state(hood)
    out = await hood.send("alice", ChoiceIn("evmod:1:ok"))  # a resident cannot approve
    assert "Seuls les modérateurs" in out[0].text and await state(hood) == before
    await hood.press("mod", "✅ Publier")
    # alice and the moderator; the moderator's answer goes before the announcement they also get (issue 15)
    assert "est publiée et annoncée à 2 voisins." in hood.texts("mod")[-2] and "📣" in hood.texts("mod")[-1]
    assert "📣" in hood.texts("alice")[-1]
    assert "publiée et annoncée aux voisins" in hood.texts("shop")[-1]
    out = await hood.send("mod", ChoiceIn("evmod:1:no"))  # a second decision changes nothing
    assert "déjà été traitée" in out[0].text
    assert (await events.get(hood.core.db, 1)).status == "published"


async def test_a_moderator_can_reject_an_event(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood, trusted=False)
    await type_event(hood)
    await hood.press("mod", "❌ Refuser")
    assert (await events.get(hood.core.db, 1)).status == "rejected"
    assert "n'ont pas retenu" in hood.texts("shop")[-1]


async def test_a_resident_is_told_who_can_post_and_how_to_apply(hood: Neighbours) -> None:
    await hood.join("alice")
    out = await hood.say("alice", "/evenement")
    assert "/organisateur" in out[0].text
    out = await hood.say("alice", "/event")
    assert "/organizer" not in out[0].text and "Faites la demande" in out[0].text
    out = await hood.say("alice", "/mesevenements")
    assert "/organisateur" in out[0].text


async def test_application_goes_to_moderators_and_only_they_decide(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await apply_as_organizer(hood)
    assert "demande pour <b>Boulangerie Martin</b>" in hood.texts("shop")[-1]
    assert "Nouvelle demande" in hood.texts("mod")[-1]
    out = await hood.say("shop", "/evenement")
    assert "attend la réponse" in out[0].text
    before = await state(hood)
    out = await hood.send("alice", ChoiceIn("orgmod:1:trust"))
    assert "Seuls les modérateurs de Belleville" in out[0].text and await state(hood) == before
    await hood.press("mod", "❌ Refuser")
    assert (await organizers.get(hood.core.db, 1)).status == "rejected"
    assert "n'ont pas retenu" in hood.texts("shop")[-1]
    out = await hood.send("mod", ChoiceIn("orgmod:1:ok"))
    assert "déjà été traitée" in out[0].text


async def test_organizer_application_bad_inputs_and_cancel(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("shop")
    await hood.say("shop", "/organisateur")
    out = await hood.say("shop", "x" * 81)
    assert "80 caractères au plus" in out[0].text
    await hood.say("shop", "Atelier <b>Vélo</b>")
    out = await hood.say("shop", "n'importe quoi")
    assert "Je n'ai pas bien compris" in out[0].text
    await hood.press("shop", "Un artisan")
    out = await hood.say("shop", "Atlantide, Ménilmontant")
    assert len(out) == 1 and "Je n'ai pas reconnu : Atlantide" in out[0].text and "Ménilmontant" in out[0].text
    await hood.press("shop", "organizer.places:done")
    out = await hood.say("shop", "annuler")
    assert "Rien n'a été enregistré" in out[0].text
    assert await hood.core.db.fetchall("SELECT * FROM organizers") == []


async def test_organizer_places_plain_answers(hood: Neighbours) -> None:
    """Tried as a shopkeeper: typing one's own neighbourhood again got the bare question, and "oui"
    (the list is right) got "Je n'ai pas reconnu : oui"."""
    await make_moderator(hood)
    await hood.join("shop")
    await hood.say("shop", "/organisateur")
    await hood.say("shop", "Boulangerie Martin")
    await hood.press("shop", "Un commerce")
    out = await hood.say("shop", "belleville")
    assert len(out) == 1 and out[0].text.startswith("Belleville (Paris 20e) : déjà dans la liste.")
    out = await hood.say("shop", "oui")
    assert len(out) == 1 and "Je n'ai pas reconnu" not in out[0].text
    assert "Une ligne pour vous joindre" in out[0].text


async def test_organizer_text_is_escaped_in_messages(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await apply_as_organizer(hood, name="<a href='x'>Clique</a>")
    assert "&lt;a href='x'&gt;Clique&lt;/a&gt;" in hood.texts("mod")[-1]
    await hood.press("mod", "⭐ Accepter, publie sans validation")
    await type_event(hood, title="<b>Gros</b> titre")
    assert "&lt;b&gt;Gros&lt;/b&gt; titre" in hood.texts("alice")[-1]


async def test_event_flow_bad_answers_are_asked_again_without_changing_anything(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood)
    await hood.say("shop", "/evenement")
    out = await hood.say("shop", "t" * 121)
    assert "120 caractères au plus" in out[0].text
    await hood.say("shop", "Atelier tricot")
    for typed, expected in [("blabla", "Je n'ai pas compris"), ("hier 10h", "déjà passé"),
                            ("31/02 à 10h", "n'existe pas"), ("demain", "l'heure")]:
        out = await hood.say("shop", typed)
        assert expected in out[0].text and "samedi 15h" in out[0].text
    out = await hood.say("shop", "samedi 15h")
    assert "samedi 28 novembre à 15:00" in out[0].text
    await hood.press("shop", "Non, je corrige")
    out = await hood.say("shop", "next friday 7pm")
    assert "vendredi 27 novembre 2026 à 19:00" in out[0].text  # "next": confirmed with the full date
    await hood.press("shop", "Oui, c'est ça")
    out = await hood.say("shop", "w" * 201)
    assert "200 caractères" in out[0].text
    await hood.say("shop", "Salle des fêtes")
    out = await hood.say("shop", "d" * 1001)
    assert "1000 caractères" in out[0].text
    await hood.say("shop", "Tricot.")
    out = await hood.press("shop", "Lecture")
    assert "✓ Noté : Lecture." in out[0].text and not out[0].choices
    await hood.press("shop", "event.interests:done")
    for typed in ("beaucoup", "0.5", "10001", "-3"):
        out = await hood.say("shop", typed)
        assert "entre 1 et 10000" in out[0].text
    out = await hood.say("shop", "12")
    assert "Places : 12" in out[0].text and "Pour : Lecture" in out[0].text
    assert (await state(hood))[0] == []
    await hood.press("shop", "🗑 Abandonner")
    assert (await state(hood))[0] == []


async def test_cancel_works_at_any_step(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood)
    await hood.say("shop", "/evenement")
    await hood.say("shop", "Atelier")
    out = await hood.say("shop", "Annuler")
    assert "pas enregistrée" in out[0].text
    await hood.say("shop", "/evenement")
    await hood.say("shop", "Atelier")
    await hood.say("shop", "samedi 15h")
    await hood.say("shop", "/annuler")
    assert (await state(hood))[0] == []
    out = await hood.say("shop", "samedi 15h")
    assert "pas enregistrée" not in out[0].text  # no flow left: the ordinary private-chat hint


async def test_weekly_cap(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood)
    for day in ("jeudi 10h", "vendredi 10h", "samedi 10h"):
        await type_event(hood, when=day)
    await hood.say("shop", "/evenement")
    await hood.say("shop", "Une de trop")
    out = await hood.say("shop", "dimanche 10h")
    assert "déjà 3 activités cette semaine-là" in out[0].text
    out = await hood.say("shop", "lundi 10h")  # next week is fine
    assert "lundi 30 novembre à 10:00" in out[0].text


async def test_rsvp_capacity_waitlist_and_freed_place(hood: Neighbours) -> None:
    await make_moderator(hood)
    for name in ("alice", "bob", "carol"):
        await hood.join(name)
    await make_organizer(hood)
    await type_event(hood, capacity="1")
    # two people press "I'm going" for the last place in the same batch: one gets it, one waits
    await hood.core.receive(hood.platform.event("alice", ChoiceIn("rsvp:1:yes")))
    await hood.core.receive(hood.platform.event("bob", ChoiceIn("rsvp:1:yes")))
    await hood.core.settle()
    assert "vous allez à « Atelier tricot »" in hood.texts("alice")[-1]
    assert "liste d'attente (n° 1)" in hood.texts("bob")[-1]
    assert (await rsvps.counts(hood.core.db, 1)) == {"going": 1, "maybe": 0, "waiting": 1}
    out = await hood.press("alice", "✅ J'y vais") if False else await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    assert "déjà inscrit" in out[0].text
    out = await hood.send("carol", ChoiceIn("rsvp:1:maybe"))
    assert "peut-être" in out[0].text
    out = await hood.send("carol", ChoiceIn("rsvp:1:show"))
    assert "1 personne y va" in out[0].text and "0 place restante sur 1" in out[0].text
    await hood.press("alice", "Je ne peux plus venir")
    assert "Une place s'est libérée" in hood.texts("bob")[-1]
    assert await rsvps.status_of(hood.core.db, 1, await person_id(hood, "bob")) == "going"
    out = await hood.send("alice", ChoiceIn("rsvp:99:yes"))
    assert "n'est plus proposée" in out[0].text
    out = await hood.send("alice", ChoiceIn("rsvp:1:dance"))
    assert "n'est plus valable" in out[0].text


async def test_reminder_the_day_before_once(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await make_organizer(hood)
    await type_event(hood)  # Saturday 28 November 15:00
    await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert "Petit rappel" not in hood.texts("alice")[-1]
    hood.clock.advance(days=2, hours=5)  # Friday 16:00 Paris
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert "Petit rappel : « Atelier tricot », c'est samedi 28 novembre à 15:00" in hood.texts("alice")[-1]
    sent = len(hood.platform.sent)
    hood.clock.advance(hours=1)
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert not any("Petit rappel" in m.text for m in hood.platform.sent[sent:])


async def test_organizer_edits_and_cancels_and_attendees_are_told(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await make_organizer(hood)
    await type_event(hood)
    await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    out = await hood.say("shop", "/mesevenements")
    assert "Atelier tricot" in out[0].text and "publiée" in out[0].text
    await hood.press("shop", "Atelier tricot")
    await hood.press("shop", "Changer la date")
    await hood.say("shop", "dimanche 16h")
    out = await hood.press("shop", "Oui, c'est ça")
    assert "1 personne prévenue" in out[0].text
    assert "c'est maintenant dimanche 29 novembre à 16:00" in hood.texts("alice")[-1]
    out = await hood.send("alice", ChoiceIn("evo:1:cancelyes"))  # not hers
    assert "n'est plus proposée" in out[0].text and (await events.get(hood.core.db, 1)).status == "published"
    await hood.say("shop", "/mesevenements")
    await hood.press("shop", "Atelier tricot")
    await hood.press("shop", "Annuler l'activité")
    out = await hood.press("shop", "Oui, annuler")
    assert "est annulée ; 1 personne prévenue" in out[0].text
    assert "est annulée par l'organisateur" in hood.texts("alice")[-1]
    out = await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    assert "n'est plus proposée" in out[0].text


async def test_agenda_and_calendar_file(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    out = await hood.say("alice", "/agenda")
    assert "Rien de prévu" in out[0].text
    await make_organizer(hood)
    await type_event(hood)
    out = await hood.say("alice", "/agenda")
    assert "samedi 28 novembre à 15:00 — <b>Atelier tricot</b>" in out[0].text
    out = await hood.press("alice", "Atelier tricot")
    assert "👤 Boulangerie Martin" in out[0].text
    out = await hood.press("alice", "📅 Ajouter à mon agenda")
    file = out[0].attachment
    assert file is not None and file.mime_type == "text/calendar" and file.filename == "atelier-tricot.ics"
    assert b"SUMMARY:Atelier tricot" in file.data and b"DTSTART;TZID=Europe/Paris:20261128T150000" in file.data


async def test_weekly_digest_instead_of_each_announcement(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await hood.join("bob")
    await hood.say("alice", "/hebdo")
    out = await hood.press("alice", "Une fois par semaine")
    assert "un message par semaine" in out[0].text
    await make_organizer(hood)
    await type_event(hood, when="3/12 à 18h")
    assert "📣" in hood.texts("bob")[-1] and not any("📣" in t for t in hood.texts("alice"))
    hood.clock.set(hood.clock.now().replace(day=30, hour=9, minute=5))  # Monday 10:05 in Paris
    await hood.core.scheduler.tick()
    await hood.core.scheduler.tick()
    await hood.core.settle()
    digests = [t for t in hood.texts("alice") if "Cette semaine près de chez vous" in t]
    assert len(digests) == 1 and "jeudi 3 décembre à 18:00 — <b>Atelier tricot</b>" in digests[0]
    assert not any("Cette semaine" in t for t in hood.texts("bob"))
    hood.clock.set(hood.clock.now().replace(day=7, month=12))  # next Monday: nothing on, nothing sent
    await hood.core.scheduler.tick()
    await hood.core.settle()
    assert len([t for t in hood.texts("alice") if "Cette semaine près de chez vous" in t]) == 1
    await hood.say("alice", "/digest")
    await hood.press("alice", "À chaque activité")
    await type_event(hood, title="Chorale", when="12/12 à 18h30")
    assert "Chorale" in hood.texts("alice")[-1]


async def test_outbox_counts_are_for_moderators(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    out = await hood.say("alice", "/envois")
    assert "Seuls les modérateurs" in out[0].text
    hood.platform.blocked.add("alice")
    await make_organizer(hood)
    await type_event(hood)
    counts = await outbox.counts(hood.core.db)
    out = await hood.say("mod", "/outbox")
    assert "en attente : 0" in out[0].text and "échoués : 1" in out[0].text
    assert f"envoyés : {counts['sent']}" in out[0].text


async def test_mydata_and_forget_cover_activities(hood: Neighbours) -> None:
    import json

    await make_moderator(hood)
    await hood.join("alice")
    await make_organizer(hood)
    await type_event(hood)
    await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    out = await hood.say("alice", "/mesdonnees")
    data = json.loads(out[1].attachment.data)
    assert data["event_answers"][0]["status"] == "going" and data["weekly_digest"] is False
    out = await hood.say("shop", "/mydata")
    assert json.loads(out[1].attachment.data)["organizer"]["name"] == "Boulangerie Martin"
    await hood.say("alice", "/oublier")
    await hood.press("alice", "forget:yes")
    assert await hood.core.db.fetchall("SELECT * FROM rsvps") == []


async def test_config_limits_are_used(hood: Neighbours) -> None:
    activities = replace(hood.core.config.activities, max_title=10)
    hood.core.config = replace(hood.core.config, activities=activities)
    await make_moderator(hood)
    await make_organizer(hood)
    await hood.say("shop", "/evenement")
    out = await hood.say("shop", "Onze lettres")
    assert "10 caractères au plus" in out[0].text
