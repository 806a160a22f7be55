"""The event wizard's "when" step with the date rules of issue 19: every refusal says its reason in the
organizer's language and changes nothing; an ambiguous answer is confirmed with the full date; a range
keeps its end. ``now`` is Wednesday 2 December 2026, 10:00 in Paris."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.storage import events
from tests.core.activity_helpers import make_moderator, make_organizer, person_id
from tests.core.conftest import Neighbours

WEDNESDAY = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris


async def at_when_step(hood: Neighbours, lang: str = "fr") -> None:
    await make_moderator(hood)
    await make_organizer(hood)
    async with hood.core.db.transaction():
        await hood.core.db.execute("UPDATE people SET language = ? WHERE id = ?", (lang, await person_id(hood, "shop")))
    hood.clock.set(WEDNESDAY)
    await hood.say("shop", "/evenement")
    await hood.say("shop", "Atelier tricot")


@pytest.mark.parametrize(("typed", "lang", "says"), [
    ("hier 10h", "fr", "est déjà passé"),
    ("9h", "fr", "est déjà passé"),
    ("samedi", "fr", "Il me faut aussi l'heure"),
    ("30/02 10h", "fr", "n'existe pas dans le calendrier"),
    ("25h", "fr", "n'est pas une heure qui existe"),
    ("vendredi 12 décembre 15h", "fr", "se contredit : c'est <b>samedi 12 décembre 2026</b>"),
    ("samedi 15h ou dimanche 16h", "fr", "donne deux moments"),
    ("bientôt", "fr", "Je n'ai pas compris"),
    ("yesterday 10am", "en", "is already past"),
    ("tomorrow", "en", "I also need the time"),
    ("32/12 10am", "en", "does not exist in the calendar"),
    ("13pm", "en", "is not a time that exists"),
    ("friday december 12 7pm", "en", "contradicts itself: that date is <b>Saturday 12 December 2026</b>"),
    ("3pm or 4pm", "en", "gives two moments"),
    ("soon", "en", "I could not read"),
])
async def test_a_refused_date_says_why_in_the_organizers_language(hood: Neighbours, typed: str, lang: str,
                                                                  says: str) -> None:
    """Before: "hier 10h" was refused as past but "vendredi 12 décembre" was silently read as the 12th
    and "samedi 15h ou dimanche 16h" as one of them; "bientôt" was "not understood" only by luck."""
    await at_when_step(hood, lang)
    out = await hood.say("shop", typed)
    assert len(out) == 1 and says in out[0].text, out[0].text
    assert not out[0].choices, "nothing to confirm: the date is asked again"
    assert await hood.core.db.fetchall("SELECT id FROM events") == []
    out = await hood.say("shop", "samedi 15h")  # the question is still open
    assert "samedi 5 décembre à 15:00" in out[0].text or "Saturday 5 December at 15:00" in out[0].text


async def test_jeudi_prochain_is_confirmed_with_the_full_date(hood: Neighbours) -> None:
    """"jeudi prochain" on a Wednesday is tomorrow: the echo says so with the date and the year."""
    await at_when_step(hood)
    out = await hood.say("shop", "jeudi prochain 15h")
    assert "« jeudi prochain 15h » : je comprends <b>jeudi 3 décembre 2026 à 15:00</b>" in out[0].text
    out = await hood.say("shop", "samedi 15h")
    assert "C'est bien <b>samedi 5 décembre à 15:00</b> ?" in out[0].text


async def test_a_range_keeps_its_end(hood: Neighbours) -> None:
    await at_when_step(hood)
    out = await hood.say("shop", "samedi de 10h à 12h")
    assert "samedi 5 décembre à 10:00 (jusqu'à 12:00)" in out[0].text
    await hood.press("shop", "Oui, c'est ça")
    await hood.say("shop", "Salle des fêtes")
    await hood.say("shop", "On tricote.")
    await hood.press("shop", "event.interests:done")
    await hood.say("shop", "non")
    await hood.press("shop", "✅ Publier")
    event = await events.get(hood.core.db, 1)
    assert event is not None and event.ends_at is not None
    assert (event.starts_at.hour, event.ends_at.hour) == (9, 11)  # UTC
