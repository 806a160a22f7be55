"""iCalendar (.ics) files: one event to add to a calendar, and whole calendars to import.

The .ics format is what Mobilizon, OpenAgenda and every calendar app export, so an association that
already keeps its agenda somewhere never types an event twice. Imports are deduplicated by UID: the
same file imported again changes nothing, an event whose content changed is updated in place.

Fetching a feed is kept here too, with a size limit, a timeout and (by default) a refusal to read
addresses on this machine or its local network, since the URL is typed by an organizer.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import icalendar
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver

from bot.core.clock import from_iso
from bot.storage.events import Event

PRODID = "-//Voisinage//Activities//FR"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT as read from a file: what an import stores."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str
    description: str
    categories: tuple[str, ...] = ()
    recurring: bool = False


class FetchError(Exception):
    """A feed could not be read; ``reason`` is one of: scheme, private, too_big, http, network, not_ics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


# ---- export -------------------------------------------------------------------------------------

def event_uid(event: Event, domain: str) -> str:
    """Our events get "event-<id>@<domain>"; imported ones keep the UID of their source calendar."""
    return event.uid if event.source == "import" else f"{event.uid}@{domain}"


def to_ics(events: list[Event], domain: str, zone: ZoneInfo, now: datetime) -> bytes:
    """A calendar with these events, times in the deployment's zone (so calendar apps show local time)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    for event in events:
        calendar.add_component(_vevent(event, domain, zone, now))
    if hasattr(calendar, "add_missing_timezones"):
        calendar.add_missing_timezones()
    return calendar.to_ical()


def _vevent(event: Event, domain: str, zone: ZoneInfo, now: datetime) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event_uid(event, domain))
    vevent.add("dtstamp", now.astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", (event.ends_at or event.starts_at + timedelta(hours=2)).astimezone(zone))
    vevent.add("summary", event.title)
    if event.location:
        vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("sequence", event.sequence)
    if event.updated_at:  # when it last changed: calendars polling a feed compare it
        vevent.add("last-modified", from_iso(event.updated_at).astimezone(UTC))
    if event.status == "cancelled":
        vevent.add("status", "CANCELLED")
    return vevent


# ---- import -------------------------------------------------------------------------------------

def parse_ics(data: bytes, zone: ZoneInfo) -> list[CalendarEvent]:
    """Every VEVENT of a calendar file. Raises ``FetchError('not_ics')`` when it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise FetchError("not_ics", str(exc)[:200]) from None
    found = []
    for component in calendar.walk("VEVENT"):
        event = _read_vevent(component, zone)
        if event is not None:
            found.append(event)
    return found


def _read_vevent(component: icalendar.Event, zone: ZoneInfo) -> CalendarEvent | None:
    uid = str(component.get("uid", "")).strip()
    start = component.get("dtstart")
    if not uid or start is None:
        return None  # without a UID an event could not be deduplicated on the next import
    end = component.get("dtend")
    categories: list[str] = []
    for value in _as_list(component.get("categories")):
        categories.extend(str(c) for c in getattr(value, "cats", [value]))
    return CalendarEvent(
        uid=uid[:255],
        title=str(component.get("summary", "")).strip(),
        starts_at=_aware(start.dt, zone),
        ends_at=_aware(end.dt, zone) if end is not None else None,
        location=str(component.get("location", "")).strip(),
        description=str(component.get("description", "")).strip(),
        categories=tuple(categories),
        recurring=component.get("rrule") is not None,
    )


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    """All-day events start at 00:00 local; floating times are local; everything is made aware."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


# ---- fetching a feed ----------------------------------------------------------------------------
#
# The URL is typed by an organizer, so the bot must not become a way to read this machine or its local
# network (an admin page, a cloud metadata address). Checking the name once before the download is not
# enough: a redirect leads elsewhere, and a name can resolve differently at connection time. So every
# connection goes through a resolver that drops forbidden addresses, redirects are followed by hand
# (each new URL checked again), and an address written as a number (which aiohttp never resolves) is
# checked before it is used.

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
AddressCheck = Callable[[IPAddress], bool]


def public_address(address: IPAddress) -> bool:
    """Global unicast only: no loopback, private, link-local, shared (CGNAT), unspecified, multicast or
    reserved address, including IPv4 written inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class ForbiddenAddress(OSError):
    """The feed's host is (or resolves only to) an address the bot must not connect to."""


class FilteringResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses ``allowed`` accepts, at connection time."""

    def __init__(self, allowed: AddressCheck) -> None:
        self.allowed = allowed
        self.inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list:
        found = await self.inner.resolve(host, port, family)
        kept = [r for r in found if self.allowed(ipaddress.ip_address(r["host"].split("%")[0]))]
        if not kept:
            raise ForbiddenAddress(f"{host} resolves only to addresses that are not allowed")
        return kept

    async def close(self) -> None:
        await self.inner.close()


async def fetch(url: str, max_bytes: int, allow_private: bool, timeout: float = 20.0,
                allowed: AddressCheck | None = None) -> bytes:
    """Download a calendar: http(s) only, at most ``max_bytes``, never a private address unless allowed
    (``allowed``: which addresses may be connected to; the tests' only way to stand in for "public")."""
    check: AddressCheck = (lambda _a: True) if allow_private else (allowed or public_address)
    try:
        connector = aiohttp.TCPConnector(resolver=FilteringResolver(check), use_dns_cache=False)
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=client_timeout, connector=connector) as session:
            for _ in range(MAX_REDIRECTS + 1):
                _check_url(url, check)
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in REDIRECTS and response.headers.get("Location"):
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return await _body(response, max_bytes)
            raise FetchError("http", "too many redirects")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ForbiddenAddress) or isinstance(exc.__cause__, ForbiddenAddress):
            raise FetchError("private", str(exc.host)) from None
        raise FetchError("network", type(exc).__name__) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError("network", type(exc).__name__) from None


def _check_url(url: str, allowed: AddressCheck) -> None:
    """The scheme, and a host written as an address (aiohttp connects to those without resolving)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("scheme", url[:100])
    try:
        literal = ipaddress.ip_address(parts.hostname.split("%")[0])
    except ValueError:
        return  # a name: the resolver checks what it resolves to, at connection time
    if not allowed(literal):
        raise FetchError("private", parts.hostname)


async def _body(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.status != 200:
        raise FetchError("http", str(response.status))
    if response.content_length is not None and response.content_length > max_bytes:
        raise FetchError("too_big", str(max_bytes))
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchError("too_big", str(max_bytes))
    return bytes(body)
