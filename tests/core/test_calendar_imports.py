""".ics export and import: round trip, deduplication by UID, updates, feeds over a local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.activities.calendar_files import parse_ics, to_ics
from bot.activities.imports import import_calendar
from bot.core.chat import ChoiceIn
from bot.storage import events, organizers
from tests.core.activity_helpers import make_moderator, make_organizer, type_event
from tests.core.conftest import Neighbours

PARIS = ZoneInfo("Europe/Paris")


def vevent(uid: str, title: str, start: str, where: str = "Maison de quartier", extra: str = "") -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;TZID=Europe/Paris:{start}\r\n"
            f"SUMMARY:{title}\r\nLOCATION:{where}\r\nDESCRIPTION:Venez nombreux\r\n{extra}END:VEVENT\r\n")


def calendar(*vevents: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mobilizon//FR\r\n" + "".join(vevents)
            + "END:VCALENDAR\r\n").encode()


async def organizer_of(hood: Neighbours, user: str = "shop"):
    from tests.core.activity_helpers import person_id

    found = await organizers.of_person(hood.core.db, await person_id(hood, user))
    assert found is not None
    return found


async def test_export_then_import_gives_the_same_event(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood)
    await type_event(hood)
    event = await events.get(hood.core.db, 1)
    data = to_ics([event], "voisinage", PARIS, hood.clock.now())
    (read,) = parse_ics(data, PARIS)
    assert (read.title, read.starts_at, read.location, read.description) == (
        event.title, event.starts_at, event.location, event.description)
    assert read.uid == "event-1@voisinage"
    # imported by another organizer: a new event with the same content; imported twice: still one
    await make_organizer(hood, "asso")
    other = await organizer_of(hood, "asso")
    first = await import_calendar(hood.core, other, data, hood.clock.now())
    again = await import_calendar(hood.core, other, data, hood.clock.now())
    assert (first.added, again.added, again.unchanged) == (1, 0, 1)
    copy = await events.by_uid(hood.core.db, other.id, "event-1@voisinage")
    assert (copy.title, copy.starts_at, copy.location, copy.description) == (
        event.title, event.starts_at, event.location, event.description)


async def test_reimport_changes_nothing_and_an_update_updates(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    await make_organizer(hood)
    organizer = await organizer_of(hood)
    now = hood.clock.now()
    file = calendar(vevent("a@mobilizon", "Soupe partagée", "20261205T120000"),
                    vevent("b@mobilizon", "Vieille fête", "20261001T120000"),  # past: skipped
                    vevent("c@mobilizon", "Tricot du jeudi", "20261203T140000", extra="RRULE:FREQ=WEEKLY\r\n"),
                    vevent("d@mobilizon", "", "20261204T140000"))  # no title: skipped
    result = await import_calendar(hood.core, organizer, file, now)
    assert (result.total, result.added, result.skipped) == (4, 2, 2)
    await hood.core.settle()
    assert sum("📣" in t for t in hood.texts("alice")) == 2
    before = await hood.core.db.fetchall("SELECT * FROM events ORDER BY id")
    result = await import_calendar(hood.core, organizer, file, now)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 2)
    assert await hood.core.db.fetchall("SELECT * FROM events ORDER BY id") == before
    await hood.send("alice", ChoiceIn("rsvp:1:yes"))
    moved = calendar(vevent("a@mobilizon", "Soupe partagée", "20261205T130000"),
                     vevent("c@mobilizon", "Tricot du jeudi", "20261203T140000", extra="RRULE:FREQ=WEEKLY\r\n"))
    result = await import_calendar(hood.core, organizer, moved, now)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 1)
    await hood.core.settle()
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events") == 2
    soup = await events.by_uid(hood.core.db, organizer.id, "a@mobilizon")
    assert soup.starts_at == datetime(2026, 12, 5, 13, 0, tzinfo=PARIS) and soup.sequence == 1
    assert "c'est maintenant samedi 5 décembre à 13:00" in hood.texts("alice")[-1]
    assert sum("📣" in t for t in hood.texts("alice")) == 2  # an update is not a new announcement


async def test_imported_events_of_an_untrusted_organizer_wait_and_the_cap_applies(hood: Neighbours) -> None:
    await make_moderator(hood)
    await make_organizer(hood, trusted=False)
    organizer = await organizer_of(hood)
    file = calendar(*[vevent(f"{i}@x", f"Atelier {i}", f"2026120{i}T100000") for i in range(1, 6)])  # Tue–Sat
    result = await import_calendar(hood.core, organizer, file, hood.clock.now())
    assert (result.added, result.skipped) == (3, 2)
    rows = await hood.core.db.fetchall("SELECT status FROM events")
    assert [r[0] for r in rows] == ["pending"] * 3


async def test_not_a_calendar_is_refused(hood: Neighbours) -> None:
    from bot.activities.calendar_files import FetchError

    with pytest.raises(FetchError) as caught:
        parse_ics(b"<html>hello</html>", PARIS)
    assert caught.value.reason == "not_ics"


@pytest.fixture
async def feed_server() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server serving whatever the test puts in ``files``."""
    files: dict[str, bytes] = {}

    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            return web.Response(status=404)
        return web.Response(body=files[name], content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", files
    await runner.cleanup()


def allow_local(hood: Neighbours, **changes) -> None:
    activities = replace(hood.core.config.activities, import_allow_private=True, **changes)
    hood.core.config = replace(hood.core.config, activities=activities)


async def run_imports(hood: Neighbours) -> None:
    hood.clock.advance(minutes=1)  # the import pass runs every minute
    await hood.core.scheduler.tick()
    await hood.core.settle()


async def test_feed_import_with_progress_and_daily_refresh(hood: Neighbours, feed_server) -> None:
    base, files = feed_server
    allow_local(hood, weekly_cap=100, import_chunk=25)
    await make_moderator(hood)
    await make_organizer(hood)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=PARIS)
    files["agenda.ics"] = calendar(*[vevent(f"{i}@oa", f"Permanence {i}",
                                            (start + timedelta(days=i)).strftime("%Y%m%dT%H%M%S"))
                                     for i in range(60)])
    out = await hood.say("shop", f"/importer {base}/agenda.ics")
    assert "J'importe votre agenda" in out[0].text
    await run_imports(hood)
    texts = hood.texts("shop")
    assert any("Import en cours : 25 sur 60" in t for t in texts) and any("50 sur 60" in t for t in texts)
    assert "Import terminé : 60 dans l'agenda, 60 nouvelles" in texts[-1]
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events WHERE status = 'published'") == 60
    sent = len(hood.platform.sent)
    hood.clock.advance(hours=2)
    await run_imports(hood)  # not yet time to refresh
    assert len(hood.platform.sent) == sent
    hood.clock.advance(hours=23)
    await run_imports(hood)  # refreshed: nothing changed, nothing said
    assert len(hood.platform.sent) == sent
    assert await hood.core.db.scalar("SELECT last_result FROM feeds") == \
        "total=60 added=0 updated=0 unchanged=60 skipped=0"


async def test_feed_errors_are_explained(hood: Neighbours, feed_server) -> None:
    base, files = feed_server
    await make_moderator(hood)
    await make_organizer(hood)
    await hood.say("shop", f"/importer {base}/agenda.ics")
    await run_imports(hood)
    assert "réseau privé" in hood.texts("shop")[-1]  # the default refuses this machine's addresses
    allow_local(hood, import_max_bytes=100)
    await hood.say("shop", f"/importer {base}/missing.ics")
    await run_imports(hood)
    assert "a refusé" in hood.texts("shop")[-1]
    files["page.ics"] = b"<html>not a calendar</html>"
    await hood.say("shop", f"/importer {base}/page.ics")
    await run_imports(hood)
    assert "pas un agenda" in hood.texts("shop")[-1]
    files["big.ics"] = calendar(*[vevent(f"{i}@x", "Atelier", "20261205T100000") for i in range(5)])
    await hood.say("shop", f"/importer {base}/big.ics")
    await run_imports(hood)
    assert "trop gros" in hood.texts("shop")[-1]
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events") == 0


async def test_import_command_bad_inputs(hood: Neighbours) -> None:
    await make_moderator(hood)
    await hood.join("alice")
    out = await hood.say("alice", "/importer https://example.org/a.ics")
    assert "/organisateur" in out[0].text
    await make_organizer(hood)
    out = await hood.say("shop", "/importer")
    assert "suivi de l'adresse" in out[0].text
    out = await hood.say("shop", "/importer file:///etc/passwd")
    assert "ne ressemble pas" in out[0].text
    out = await hood.say("shop", "/importer https://example.org/" + "a" * 500)
    assert "500 caractères" in out[0].text
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM feeds") == 0


def test_all_day_and_floating_times_are_local() -> None:
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261205\r\n"
            "SUMMARY:Brocante\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2\r\nDTSTART:20261205T100000\r\nSUMMARY:Marché\r\n"
            "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261205T100000Z\r\nSUMMARY:Utc\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\nDTSTART:20261205T100000Z\r\nSUMMARY:No uid\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    read = parse_ics(data, PARIS)
    assert [e.starts_at for e in read] == [datetime(2026, 12, 5, 0, 0, tzinfo=PARIS),
                                           datetime(2026, 12, 5, 10, 0, tzinfo=PARIS),
                                           datetime(2026, 12, 5, 10, 0, tzinfo=UTC)]


async def test_an_ics_file_sent_in_the_chat_is_imported_once(hood: Neighbours) -> None:
    """An organizer sends their calendar file: imported by the background pass, then forgotten."""
    from bot.core.chat import FileIn

    await make_moderator(hood)
    await make_organizer(hood)
    data = calendar(vevent("a@mobilizon", "Repair café", "20261205T140000"),
                    vevent("b@mobilizon", "Goûter partagé", "20261206T160000"))
    hood.platform.files["doc-1"] = data
    out = await hood.send("shop", FileIn("doc-1", "agenda.ics", "text/calendar", len(data)))
    assert out[0].text.startswith("C'est noté ! J'importe ce fichier")
    await run_imports(hood)
    assert "Import terminé : 2 dans l'agenda, 2 nouvelles" in hood.texts("shop")[-1]
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events") == 2
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM feeds") == 0  # a sent file is not a feed
    hood.clock.advance(days=2)
    await run_imports(hood)
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events") == 2


async def test_files_that_cannot_be_imported_are_refused_clearly(hood: Neighbours) -> None:
    from bot.core.chat import FileIn

    await make_moderator(hood)
    await make_organizer(hood)
    out = await hood.send("shop", FileIn("doc-2", "photo.jpg", "image/jpeg", 1000))
    assert "n'est pas un agenda au format .ics" in out[0].text
    out = await hood.send("shop", FileIn("doc-3", "enorme.ics", "text/calendar", 50_000_000))
    assert out[0].text == "Cet agenda est trop gros pour être importé."
    hood.platform.files["doc-4"] = b"ceci n'est pas un agenda"
    await hood.send("shop", FileIn("doc-4", "faux.ics", "text/calendar", 24))
    await run_imports(hood)
    assert "n'est pas un agenda au format .ics" in hood.texts("shop")[-1]
    out = await hood.send("resident", FileIn("doc-1", "agenda.ics", "text/calendar", 10))
    assert "Merci ! Je ne sais pas quoi faire de ce fichier" in out[-1].text  # not even a member yet
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM events") == 0
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM feeds") == 0


STAND_IN_PUBLIC = "127.0.0.2"  # a loopback address the SSRF tests treat as "a public server"


def public_or_stand_in(address) -> bool:
    from bot.activities.calendar_files import public_address

    return str(address) == STAND_IN_PUBLIC or public_address(address)


@pytest.fixture
async def redirecting_server() -> AsyncIterator[tuple[str, int, list[str]]]:
    """A "public" server on 127.0.0.2 that redirects wherever ``/to?url=`` says, and a "private" one on
    127.0.0.1 (same port number) that records every request that reaches it."""
    reached: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def private(request: web.Request) -> web.Response:
        reached.append(request.path)
        return web.Response(body=calendar(vevent("secret@x", "Secret", "20261205T100000")))

    public_app, private_app = web.Application(), web.Application()
    public_app.router.add_get("/to", redirect)
    public_app.router.add_get("/ok.ics", private)
    private_app.router.add_get("/{name}", private)
    runners = [web.AppRunner(public_app), web.AppRunner(private_app)]
    for runner in runners:
        await runner.setup()
    public_site = web.TCPSite(runners[0], STAND_IN_PUBLIC, 0)
    await public_site.start()
    port = runners[0].addresses[0][1]
    await web.TCPSite(runners[1], "127.0.0.1", port).start()
    yield f"http://{STAND_IN_PUBLIC}:{port}", port, reached
    for runner in runners:
        await runner.cleanup()


async def test_feed_redirects_to_this_machine_are_refused(redirecting_server) -> None:
    """Reproduces: only the first host was checked, so a public URL that redirects to 127.0.0.1 (by
    address or by a name such as localhost) made the bot read this machine's services."""
    from bot.activities.calendar_files import FetchError, fetch

    base, port, reached = redirecting_server
    assert b"Secret" in await fetch(f"{base}/ok.ics", 100_000, False, allowed=public_or_stand_in)
    reached.clear()
    for target in (f"http://127.0.0.1:{port}/admin", f"http://localhost:{port}/admin",
                   f"http://[::ffff:127.0.0.1]:{port}/admin", f"http://0.0.0.0:{port}/admin",
                   f"{base}/to?url=http://127.0.0.1:{port}/admin"):
        with pytest.raises(FetchError) as caught:
            await fetch(f"{base}/to?url={target}", 100_000, False, allowed=public_or_stand_in)
        assert caught.value.reason == "private", target
    for direct in (f"http://127.0.0.1:{port}/admin", f"http://localhost:{port}/admin", "http://169.254.169.254/"):
        with pytest.raises(FetchError) as caught:
            await fetch(direct, 100_000, False)
        assert caught.value.reason == "private", direct
    assert reached == []  # not one request reached the private server
    with pytest.raises(FetchError) as caught:
        await fetch("http://no-such-host.invalid/a.ics", 100_000, False)
    assert caught.value.reason == "network"


def test_only_global_addresses_are_public() -> None:
    from ipaddress import ip_address

    from bot.activities.calendar_files import public_address

    refused = ["127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
               "::1", "fe80::1", "fc00::1", "::", "::ffff:10.0.0.1", "224.0.0.1"]
    assert not any(public_address(ip_address(a)) for a in refused)
    assert public_address(ip_address("93.184.216.34")) and public_address(ip_address("2606:4700::6810:85e5"))
