"""The Matrix adapter's pure parts: events → Incoming, Outgoing → event content, errors → outcomes."""

from __future__ import annotations

from nio import ErrorResponse

from adapters.matrix.convert import RoomView, convert, first_name, strip_reply_fallback
from adapters.matrix.errors import already_member, outcome
from adapters.matrix.render import content, keycap_number, room_name
from bot.core.chat import (
    Choice,
    CommandIn,
    Delivered,
    JoinedIn,
    LeftIn,
    LocationIn,
    Outgoing,
    RetryLater,
    TextIn,
    Undeliverable,
)
from bot.core.i18n import Localized

BOT = "@voisinage:hs"
DM = RoomView("!dm:hs", private=True, choices_event="$question")
CIRCLE = RoomView("!circle:hs", private=False)


def message(body: str, sender: str = "@ana:hs", msgtype: str = "m.text", **extra) -> dict:
    return {"type": "m.room.message", "event_id": "$e1", "sender": sender,
            "content": {"msgtype": msgtype, "body": body, **extra}}


def member(target: str, now: str, before: str, sender: str | None = None) -> dict:
    return {"type": "m.room.member", "event_id": "$m", "sender": sender or target, "state_key": target,
            "content": {"membership": now}, "unsigned": {"prev_content": {"membership": before}}}


def test_texts_commands_and_what_is_ignored() -> None:
    event = convert(message("bonjour"), DM, BOT)
    assert event.body == TextIn("bonjour") and event.address.private and event.external_id == "$e1"
    assert convert(message("/Profil  nom"), DM, BOT).body == CommandIn("profil", "nom")
    assert convert(message("bonjour", sender=BOT), DM, BOT) is None  # the bot's own words
    assert convert(message("I am a bot", msgtype="m.notice"), DM, BOT) is None
    edit = message("* fixed", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}})
    assert convert(edit, DM, BOT) is None
    geo = convert(message("here", msgtype="m.location", geo_uri="geo:48.87,2.38"), DM, BOT)
    assert geo.body == LocationIn(48.87, 2.38)


def test_reply_fallback_is_removed() -> None:
    assert strip_reply_fallback("> <@bob:hs> the question\n> more\n\nmy answer") == "my answer"
    assert strip_reply_fallback("no quote") == "no quote"


def test_keycap_reaction_on_the_latest_question_is_a_typed_number() -> None:
    def reaction(key: str, on: str) -> dict:
        return {"type": "m.reaction", "event_id": "$r", "sender": "@ana:hs",
                "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": on, "key": key}}}

    assert convert(reaction("2️⃣", "$question"), DM, BOT).body == TextIn("2")
    assert convert(reaction("2️⃣", "$older"), DM, BOT) is None
    assert convert(reaction("👍", "$question"), DM, BOT) is None
    assert keycap_number("🔟") == 10 and keycap_number("3\u20e3") == 3


def test_membership_in_circle_rooms() -> None:
    assert convert(member("@ana:hs", "join", "invite"), CIRCLE, BOT).body == JoinedIn()
    assert convert(member("@ana:hs", "join", "join"), CIRCLE, BOT) is None  # a new display name
    assert convert(member("@ana:hs", "leave", "join"), CIRCLE, BOT).body == LeftIn(removed_by_admin=False)
    kicked = convert(member("@ana:hs", "leave", "join", sender="@mod:hs"), CIRCLE, BOT)
    assert kicked.body == LeftIn(removed_by_admin=True) and kicked.address.user_id == "@ana:hs"
    assert convert(member(BOT, "join", "invite"), CIRCLE, BOT) is None
    assert convert(member("@ana:hs", "join", "invite"), DM, BOT) is None


def test_first_name_only() -> None:
    assert first_name("Marie Dupont", "@marie:hs") == "Marie"
    assert first_name(None, "@jean-pierre:hs") == "jean-pierre"


def test_notice_with_plain_and_html_bodies_and_numbered_choices() -> None:
    text = Localized("<b>Bienvenue</b> &amp; bonjour\nVoir <a href=\"https://x.org\">le site</a>")
    out = content(Outgoing("matrix", "!r", text, (Choice("Oui, d'accord", "c:yes"), Choice("A & B", "c:ab"))))
    assert out["msgtype"] == "m.notice" and out["format"] == "org.matrix.custom.html"
    assert out["body"] == "Bienvenue & bonjour\nVoir le site (https://x.org)\n\n1. Oui, d'accord\n2. A & B"
    assert out["formatted_body"].startswith("<b>Bienvenue</b> &amp; bonjour<br>Voir <a href=")
    assert out["formatted_body"].endswith("<br><br>1. Oui, d'accord<br>2. A &amp; B")
    assert room_name("Voisins · Belleville &amp; Ménilmontant · 3") == "Voisins · Belleville & Ménilmontant · 3"


def test_choices_are_never_numbered_twice() -> None:
    """ "1. 1. Dégustation…" on Matrix, for a label that already carried its number."""
    out = content(Outgoing("matrix", "!r", Localized("Agenda"), (Choice("1. Dégustation", "rsvp:1:show"),
                                                                  Choice("Atelier", "rsvp:2:show"))))
    assert out["body"].endswith("\n\n1. Dégustation\n2. Atelier")
    assert "1. 1." not in out["formatted_body"]


def test_a_narrowed_list_keeps_the_numbers_of_its_question() -> None:
    """ "Which of these?" after an ambiguous answer: choices 1 and 2 of three stay 1 and 2, and a
    choice shown alone keeps its number too, so the number a resident saw first still answers."""
    out = content(Outgoing("matrix", "!r", Localized("Oui — lequel ?"), (Choice("Oui, l'animateur", "c:host", 1),
                                                                       Choice("Oui, un voisin", "c:contact", 3))))
    assert out["body"].endswith("\n\n1. Oui, l'animateur\n3. Oui, un voisin")


def test_error_outcomes() -> None:
    limited = ErrorResponse("Too Many Requests", "M_LIMIT_EXCEEDED", retry_after_ms=1500)
    assert outcome(limited) == RetryLater(1.5, "M_LIMIT_EXCEEDED Too Many Requests")
    assert isinstance(outcome(ErrorResponse("User @b:hs not in room !r", "M_FORBIDDEN")), Undeliverable)
    assert isinstance(outcome(ErrorResponse("Unknown room", "M_NOT_FOUND")), Undeliverable)
    assert isinstance(outcome(ErrorResponse("Invalid token", "M_UNKNOWN_TOKEN")), RetryLater)
    assert outcome(object(), "$ev") == Delivered("$ev")
    assert already_member(ErrorResponse("@a:hs is already in the room.", "M_FORBIDDEN"))


def test_a_file_is_passed_on_by_its_mxc_uri_not_its_content() -> None:
    from adapters.matrix.convert import message_body
    from bot.core.chat import FileIn

    body = message_body({"msgtype": "m.file", "body": "agenda.ics", "url": "mxc://hs/abc",
                         "info": {"mimetype": "text/calendar", "size": 512}})
    assert body == FileIn("mxc://hs/abc", "agenda.ics", "text/calendar", 512)
    assert message_body({"msgtype": "m.file", "body": "sans lien"}) is None
