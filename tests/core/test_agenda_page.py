"""The public agenda of a neighbourhood on the bot's HTTP server: the page and the calendar feed, served
over real HTTP on 127.0.0.1 after an organizer published (then changed, then cancelled) an activity."""

from __future__ import annotations

from dataclasses import replace

import icalendar
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.core.chat import ChoiceIn
from bot.core.config import Web
from bot.operations import web
from bot.storage import events, people
from tests.core.activity_helpers import make_moderator, make_organizer, person_id, type_event
from tests.core.conftest import Neighbours

BOT = "VoisinageBelleville_bot"


@pytest.fixture
async def agenda(hood: Neighbours):
    """A published activity in Belleville that a resident (Roberta) said she goes to, and the server."""
    config = hood.core.config
    hood.core.config = replace(config, web=Web(enabled=True), telegram=replace(config.telegram, username=BOT))
    await make_moderator(hood)
    await hood.join("alice")
    async with hood.core.db.transaction():
        await people.update(hood.core.db, await person_id(hood, "alice"), first_name="Roberta")
    await make_organizer(hood)
    await type_event(hood)
    await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    client = TestClient(TestServer(web.application(hood.core), host="127.0.0.1"))
    await client.start_server()
    hood.client = client
    yield hood
    await client.close()


async def test_the_page_shows_the_coming_activity_the_join_link_and_nothing_personal(agenda) -> None:
    answer = await agenda.client.get("/agenda/belleville")
    assert answer.status == 200 and answer.content_type == "text/html"
    page = await answer.text()
    assert '<html lang="fr">' in page and "<script" not in page
    assert "<h1>Agenda de Belleville</h1>" in page and '<h2 id="coming">Prochaines activités</h2>' in page
    assert "<h3>Atelier tricot</h3>" in page and "Samedi 28 novembre 2026, 15:00" in page
    assert "Salle des fêtes, 3 rue Ramponeau" in page and "Boulangerie Martin" in page
    assert f'href="https://t.me/{BOT}?start=p-nb__belleville"' in page
    assert 'href="/agenda/belleville/1.ics"' in page and 'href="/agenda/belleville.ics"' in page
    for private in ("Roberta", "12 rue de Belleville", "participant", "inscrit"):  # a resident, the shop's contact
        assert private not in page
    english = await (await agenda.client.get("/agenda/belleville?lang=en")).text()
    assert '<html lang="en">' in english and "<h1>What's on in Belleville</h1>" in english


async def test_other_spellings_lead_to_the_one_address_and_unknown_places_get_a_clear_404(agenda) -> None:
    answer = await agenda.client.get("/agenda/Belleville", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/agenda/belleville"
    answer = await agenda.client.get("/agenda/nb:belleville", allow_redirects=False)
    assert answer.headers["Location"] == "/agenda/belleville"
    answer = await agenda.client.get("/agenda/atlantide")
    assert answer.status == 404 and "<h1>Quartier inconnu</h1>" in await answer.text()
    assert (await agenda.client.get("/agenda/charonne/1.ics")).status == 404  # not an activity of Charonne
    assert (await agenda.client.get("/agenda/atlantide.ics")).status == 404


def vevents(data: bytes) -> list:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


async def test_the_feed_follows_an_edit_then_a_cancellation_with_the_same_uid(agenda) -> None:
    """Reproduces the issue's "done when": the feed serves a published activity and its cancellation;
    subscribed calendars see the same UID with a growing SEQUENCE, then STATUS:CANCELLED."""
    answer = await agenda.client.get("/agenda/belleville.ics")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/calendar")
    (first,) = vevents(await answer.read())
    assert str(first["summary"]) == "Atelier tricot" and "status" not in first
    uid, sequence = str(first["uid"]), int(first["sequence"])
    async with agenda.core.db.transaction():
        await events.update(agenda.core.db, 1, agenda.clock.now(), title="Atelier tricot et thé")
    (edited,) = vevents(await (await agenda.client.get("/agenda/belleville.ics")).read())
    assert str(edited["uid"]) == uid and int(edited["sequence"]) > sequence
    assert str(edited["summary"]) == "Atelier tricot et thé"
    await agenda.say("shop", "/mesevenements")
    await agenda.press("shop", "Atelier tricot et thé")
    await agenda.press("shop", "Annuler l'activité")
    await agenda.press("shop", "Oui, annuler")
    (cancelled,) = vevents(await (await agenda.client.get("/agenda/belleville.ics")).read())
    assert str(cancelled["uid"]) == uid and str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) > int(edited["sequence"])
    page = await (await agenda.client.get("/agenda/belleville")).text()
    assert "Atelier tricot" not in page and "Aucune activité prévue" in page
    one = await agenda.client.get("/agenda/belleville/1.ics")
    assert one.status == 200 and str(vevents(await one.read())[0]["status"]) == "CANCELLED"


async def test_pages_are_registered_by_the_activities_feature_not_by_the_server(hood: Neighbours) -> None:
    paths = {route.path for route in hood.core.hooks.web_routes}
    assert "/agenda/{name}" in paths
    with pytest.raises(ValueError, match="registered twice"):
        hood.core.hooks.web_route("GET", "/agenda/{name}", lambda core, request: None)
