"""Requests reaching the right person (issue 19): organizer requests that no moderator or admin could
receive wait in /demandes and go to the first moderator appointed; /organisateur typed before
onboarding is picked up after it; neighbours registered by a helper get their activities through the
helper's weekly digest and are counted by /stats."""

from __future__ import annotations

from dataclasses import replace

from bot.activities import announcements
from bot.core.chat import ChoiceIn
from bot.storage import organizers
from tests.core.activity_helpers import apply_as_organizer, make_moderator, make_organizer, person_id, type_event
from tests.core.conftest import Neighbours


async def test_an_application_nobody_could_receive_waits_for_the_first_moderator(hood: Neighbours) -> None:
    """Before: with no moderator and an admin who never wrote to the bot, the shopkeeper was told
    "envoyée aux modérateurs" and nobody ever got the request."""
    hood.core.config = replace(hood.core.config, deployment=replace(hood.core.config.deployment,
                                                                    admins=["fake:boss"]))
    await apply_as_organizer(hood)
    assert "pas encore de modérateur" in hood.texts("shop")[-1] and "/demandes" in hood.texts("shop")[-1]
    await hood.join("mona")
    out = await hood.say("mona", "/demandes")  # not a moderator yet
    assert "Seul un modérateur du quartier" in out[-1].text and not out[-1].choices
    out = await hood.say("boss", "/demandes")  # the admin, writing for the first time, sees it
    assert "Boulangerie Martin" in out[0].text and out[0].choices[0].label == "✅ Accepter"
    assert "1 demande attend votre décision" in out[-1].text
    await hood.say("boss", f"/moderator #{await person_id(hood, 'mona')} belleville")
    offered = [m for m in hood.platform.to("dm:mona") if "Boulangerie Martin" in m.text]
    assert len(offered) == 1 and offered[0].choices
    assert "attendaient qu'un modérateur soit nommé" in hood.texts("mona")[-1]
    await hood.send("mona", ChoiceIn(offered[0].choices[0].payload))  # ✅ Accepter
    organizer = await organizers.of_person(hood.core.db, await person_id(hood, "shop"))
    assert organizer is not None and organizer.status == "approved"
    assert "Boulangerie Martin" in hood.texts("shop")[-1]
    out = await hood.say("mona", "/requests")
    assert "Aucune demande" in out[-1].text


async def test_an_event_nobody_could_approve_waits_too(hood: Neighbours) -> None:
    hood.core.config = replace(hood.core.config, deployment=replace(hood.core.config.deployment,
                                                                    admins=["fake:boss"]))
    await hood.join("boss")  # the admin approves the organizer, then nobody moderates the events
    await apply_as_organizer(hood)
    await hood.press("boss", "✅ Accepter")
    hood.core.config = replace(hood.core.config, deployment=replace(hood.core.config.deployment, admins=[]))
    out = await type_event(hood)
    assert "votre quartier n'en a pas encore" in out[-1].text
    await hood.join("mona")
    hood.core.config = replace(hood.core.config, deployment=replace(hood.core.config.deployment,
                                                                    admins=["fake:boss"]))
    await hood.say("boss", f"/moderator #{await person_id(hood, 'mona')} belleville")
    assert any("Atelier tricot" in t and "attend votre validation" in t for t in hood.texts("mona"))


async def test_demandes_shows_an_event_already_offered_again(hood: Neighbours) -> None:
    """Tried as a moderator: an event offered when it was submitted (far up the chat), then /demandes
    answered "1 demande attend votre décision (ci-dessus)" with nothing shown: the offer was deduplicated."""
    await make_moderator(hood)
    await make_organizer(hood, trusted=False)
    await type_event(hood, title="Dégustation")
    assert any("Dégustation" in t for t in hood.texts("mod"))
    hood.clock.advance(hours=3)
    out = await hood.say("mod", "/demandes")
    assert "Dégustation" in out[0].text and [c.label for c in out[0].choices] == ["✅ Publier", "❌ Refuser"]
    assert "1 demande attend votre décision" in out[-1].text


async def test_organisateur_before_joining_comes_back_after_onboarding(hood: Neighbours) -> None:
    """Before: /organisateur as a first message answered "finish joining first" and was forgotten."""
    out = await hood.say("shop", "/organisateur")
    assert "ensuite, on reprend votre demande d'organisateur" in out[0].text
    await hood.press("shop", "onboarding.consent:yes")
    out = await hood.say("shop", "/organisateur")  # again, mid-way: the question comes back
    assert "on reprend votre demande" in out[0].text and "quartier" in out[-1].text, [m.text for m in out]
    out = await hood.say("shop", "belleville")
    if out and out[-1].choices and out[-1].choices[0].payload.startswith("onboarding.place_pick"):
        await hood.press("shop", "onboarding.place_pick:0")
    await hood.press("shop", "onboarding.interests:done")
    out = await hood.press("shop", "onboarding.checkins:host")
    assert "Quel est le nom de votre commerce" in out[-1].text
    await hood.say("shop", "Boulangerie Martin")
    await hood.press("shop", "Un commerce")
    await hood.press("shop", "organizer.places:done")
    out = await hood.say("shop", "12 rue de Belleville")
    assert "Boulangerie Martin" in out[-1].text
    organizer = await organizers.of_person(hood.core.db, await person_id(hood, "shop"))
    assert organizer is not None and organizer.status == "pending" and organizer.requested == ("nb:belleville",)


async def register_jeanne(hood: Neighbours) -> None:
    await hood.join("hugo")
    await hood.say("hugo", "/aidant")
    await hood.say("hugo", "Jeanne")
    out = await hood.say("hugo", "belleville")
    if any(c.payload.startswith("helper.place_pick") for c in out[-1].choices):
        await hood.press("hugo", "helper.place_pick:0")
    await hood.press("hugo", "Oui, Jeanne est d'accord")


async def test_a_helper_gets_the_activities_near_the_neighbour_in_the_weekly_digest(hood: Neighbours) -> None:
    """Before: a neighbour registered by /aidant never heard of any activity."""
    await make_moderator(hood)
    await register_jeanne(hood)
    await make_organizer(hood)
    await type_event(hood, when="3/12 à 18h")
    hood.clock.set(hood.clock.now().replace(day=30, hour=9, minute=5))  # Monday 10:05 in Paris
    await hood.core.scheduler.tick()
    await hood.core.settle()
    digests = [t for t in hood.texts("hugo") if "Cette semaine près de chez <b>Jeanne</b>" in t]
    assert len(digests) == 1 and "jeudi 3 décembre à 18:00 — <b>Atelier tricot</b>" in digests[0]
    async with hood.core.db.transaction():  # the same week again: nothing twice
        await announcements.digest_pass(hood.core, hood.clock.now())
    await hood.core.settle()
    assert len([t for t in hood.texts("hugo") if "près de chez <b>Jeanne</b>" in t]) == 1


async def test_stats_count_the_neighbours_registered_by_a_helper(hood: Neighbours) -> None:
    await make_moderator(hood)
    await register_jeanne(hood)
    out = await hood.say("mod", "/stats")
    assert "Membres : 3 dans 1 cercle\n" in out[0].text
    assert "Dont 1 voisin sans téléphone, inscrit par un aidant" in out[0].text
