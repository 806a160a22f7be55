"""The public agenda of a neighbourhood, on the bot's HTTP server (``[web] enabled``):

- ``/agenda/<neighbourhood>``: the coming activities in plain, accessible HTML (no JavaScript; semantic
  headings; 18 px text; dark on white), with the link that opens the bot there and each activity's .ics;
- ``/agenda/<neighbourhood>.ics``: a calendar feed phones and desktop calendars subscribe to. Each event
  keeps its UID, its SEQUENCE grows with each change, and a cancelled event stays in the feed with
  STATUS:CANCELLED for a while, so subscribed calendars update and cancel rather than duplicate;
- ``/agenda/<neighbourhood>/<event>.ics``: one activity, to add to a calendar.

Nothing personal: no resident's name, no attendance; only the organizer's public name. Texts come from
the same catalogues as the bot (``web-agenda-*``), the page from a Jinja2 template in ``content/web``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import jinja2
from aiohttp import web
from babel.dates import format_date, format_time
from markupsafe import Markup

from bot.activities.calendar_files import to_ics
from bot.core import start_codes
from bot.core.clock import to_iso
from bot.core.config import CONTENT_DIR
from bot.core.i18n import LANGUAGES
from bot.core.interests import fold
from bot.core.places import Place
from bot.storage import events, organizers
from bot.storage.events import Event

FEED_PAST_DAYS = 30  # a cancelled or past event stays this long, so calendars see its last state
FEED_DAYS = 365
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(CONTENT_DIR / "web"), autoescape=True, trim_blocks=True, lstrip_blocks=True,
)


def slug(place: Place) -> str:
    """"Père-Lachaise" → "pere-lachaise": what goes in the page's address."""
    return re.sub(r"[^a-z0-9]+", "-", fold(place.name)).strip("-") or place.id.replace(":", "-")


def find(core, name: str) -> Place | None:
    """The neighbourhood of an address: its slug, or anything a person would type (its id, its name)."""
    places = core.content.places
    name = name[:100]
    exact = places.get(name)
    if exact is not None:
        return exact
    match = places.match(name.replace("-", " "))
    found = [p for p in match.places if slug(p) == name.lower()]
    if len(found) == 1:
        return found[0]
    return match.places[0] if match.outcome == "found" else None


def _domain(core) -> str:
    """The same UID domain as the .ics files the bot sends (``announcements``): one event, one UID."""
    return re.sub(r"[^a-z0-9.-]+", "-", core.config.deployment.name.lower()) or "voisinage"


async def _events(core, place: Place, now: datetime, *, with_cancelled: bool) -> list[Event]:
    statuses = ("published", "cancelled") if with_cancelled else ("published",)
    since = now - timedelta(days=FEED_PAST_DAYS) if with_cancelled else now
    rows = await core.db.fetchall(
        "SELECT DISTINCT e.id FROM events e JOIN event_places p ON p.event_id = e.id "
        f"WHERE p.place_id = ? AND e.status IN ({','.join('?' * len(statuses))}) AND e.starts_at >= ? "
        "AND e.starts_at < ? ORDER BY e.starts_at, e.id",
        (place.id, *statuses, to_iso(since), to_iso(now + timedelta(days=FEED_DAYS))),
    )
    found = [await events.get(core.db, r[0]) for r in rows]
    return [e for e in found if e is not None]


def _language(core, request: web.Request) -> str:
    asked = request.query.get("lang", "")
    return asked if asked in LANGUAGES else core.config.deployment.language


def _join(core, place: Place) -> dict[str, str]:
    links = start_codes.join_links(core, place.id)
    if links is None:
        return {"code": start_codes.make(place.id), "telegram": "", "matrix": "", "matrix_user": ""}
    return {"code": links.code, "telegram": links.telegram, "matrix": links.matrix, "matrix_user": links.matrix_user}


async def _item(core, t, lang: str, place: Place, event: Event, names: dict[int, str]) -> dict:
    if event.organizer_id not in names:
        organizer = await organizers.get(core.db, event.organizer_id)
        names[event.organizer_id] = organizer.name if organizer else ""
    local = event.starts_at.astimezone(core.config.deployment.zone)
    when = f"{format_date(local, 'EEEE d MMMM y', locale=lang)}, {format_time(local, 'HH:mm', locale=lang)}"
    return {"id": event.id, "title": event.title, "when": when.capitalize(), "iso": local.isoformat(),
            "location": event.location, "description": event.description,
            "organizer": names[event.organizer_id], "ics": f"/agenda/{slug(place)}/{event.id}.ics",
            "ics_label": t("web-agenda-ics", title=event.title)}


def _translate(t):
    """Catalogue sentences for the template: their values are already escaped (``Localized``)."""
    return lambda key, **values: Markup(str(t(key, **values)))


async def page(core, request: web.Request) -> web.StreamResponse:
    """GET /agenda/<name>, /agenda/<name>.ics, /agenda/<name>/<event>.ics."""
    name = request.match_info["name"]
    if name.endswith(".ics"):
        return await feed(core, request, name.removesuffix(".ics"))
    lang = _language(core, request)
    t = core.translator(lang)
    place = find(core, name)
    if place is None:
        body = _TEMPLATES.get_template("not_found.html").render(lang=lang, t=_translate(t))
        return web.Response(status=404, text=body, content_type="text/html", charset="utf-8")
    if slug(place) != name:  # one address per neighbourhood: "Belleville", "nb:belleville" lead to "belleville"
        raise web.HTTPFound(f"/agenda/{slug(place)}" + (f"?lang={lang}" if "lang" in request.query else ""))
    now = core.clock.now()
    names: dict[int, str] = {}
    items = [await _item(core, t, lang, place, e, names)
             for e in await _events(core, place, now, with_cancelled=False)]
    other = next(code for code in LANGUAGES if code != lang)
    body = _TEMPLATES.get_template("agenda.html").render(
        lang=lang, t=_translate(t), place=place.name, bot=core.config.deployment.name, items=items,
        join=_join(core, place), feed=f"/agenda/{slug(place)}.ics", other_lang=other,
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300"})


async def feed(core, request: web.Request, name: str) -> web.StreamResponse:
    place = find(core, name)
    if place is None:
        raise web.HTTPNotFound(text="unknown neighbourhood")
    now = core.clock.now()
    found = await _events(core, place, now, with_cancelled=True)
    return _calendar(core, found, now, f"{slug(place)}.ics")


async def one_event(core, request: web.Request) -> web.StreamResponse:
    place = find(core, request.match_info["name"])
    number = request.match_info["event"]
    event = await events.get(core.db, int(number)) if place and number.isdigit() and len(number) < 10 else None
    if place is None or event is None or place.id not in event.places or event.status not in ("published",
                                                                                               "cancelled"):
        raise web.HTTPNotFound(text="no such activity")
    return _calendar(core, [event], core.clock.now(), f"{slug(place)}-{event.id}.ics")


def _calendar(core, found: list[Event], now: datetime, filename: str) -> web.Response:
    data = to_ics(found, _domain(core), core.config.deployment.zone, now)
    return web.Response(body=data, headers={
        "Content-Type": "text/calendar; charset=utf-8", "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "public, max-age=300"})


def install(core) -> None:
    core.hooks.web_route("GET", "/agenda/{name}", page)
    core.hooks.web_route("GET", r"/agenda/{name}/{event:\d+}.ics", one_event)
