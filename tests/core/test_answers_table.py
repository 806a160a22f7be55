"""What people type is understood at every question (issue 19): a table of typed answers.

Each row is one resident (a fresh user) brought to one question, then one line typed as they would
type it — a number, several numbers, yes or no in French or English, the words of a choice, a typo, a
greeting, or something that is not an answer — and what must follow. A wrong answer must change
nothing and be answered with one message that holds the question again.

The questions: onboarding (the opening message: consent and the other language; neighbourhood, "did
you mean", which quarter, interests, check-ins), the event wizard (date confirmation, interests, preview), a check-in,
/forget and /leave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.checkins.rounds import daily_pass
from bot.storage import conversations, people
from tests.core.activity_helpers import make_moderator, make_organizer
from tests.core.conftest import Neighbours

Row = tuple[str, str, str]  # (language, typed, expected)


async def state(hood: Neighbours, user: str) -> tuple[people.Person | None, conversations.Conversation | None]:
    person = await people.by_identity(hood.core.db, "fake", user)
    conv = await conversations.get(hood.core.db, person.id) if person else None
    return person, conv


async def run_table(hood: Neighbours, name: str, rows: list[Row], to_question: Callable[[str, str], Awaitable[None]],
                    outcome: Callable[[str, list], Awaitable[str]]) -> int:
    """Every row with a fresh user; all failures are reported together."""
    failures = []
    for number, (lang, typed, expected) in enumerate(rows):
        user = f"{name}{number}"
        await to_question(user, lang)
        hood.clock.advance(minutes=1)  # each row its own attempt, never part of a burst
        out = await hood.say(user, typed)
        got = await outcome(user, out)
        if got != expected and not (expected.startswith("found:") and got.startswith(expected)):
            failures.append(f"{lang} {typed!r}: expected {expected}, got {got}")
        elif expected == "again" and len(out) != 1:
            failures.append(f"{lang} {typed!r}: 'not understood' and the question must be one message, got {len(out)}")
    assert not failures, "\n".join(failures)
    return len(rows)


def again_or(step: str, conv: conversations.Conversation | None, other: str) -> str:
    return "again" if conv is not None and conv.step == step else other


# ---- onboarding -------------------------------------------------------------------------------------

LANGUAGE: list[Row] = [  # the opening message's third choice is the other language
    ("fr", "3", "en"), ("fr", "3.", "en"), ("fr", "n°3", "en"), ("fr", "English", "en"), ("fr", "english", "en"),
    ("fr", "englsh", "en"), ("fr", "anglais", "en"), ("fr", "hello", "en"), ("fr", "Hi there", "en"),
    ("fr", "bonjour", "fr"), ("fr", "Salut !", "fr"), ("fr", "français", "fr"), ("en", "3", "fr"),
    ("en", "Français", "fr"), ("en", "francais", "fr"), ("en", "fancais", "fr"), ("en", "french", "fr"),
    ("en", "bonjour", "fr"), ("en", "hello", "en"), ("fr", "9", "again"), ("fr", "peut-être", "again"),
    ("en", "blue", "again"), ("fr", "oui", "consented"),
]


async def test_language_at_the_opening_message(hood: Neighbours) -> None:
    """The language is a choice of the opening message: changed, it says everything again in that
    language (nothing agreed to); a greeting in one language answers in it."""
    async def to(user: str, lang: str) -> None:
        await hood.say(user, "/start", lang=lang)

    async def outcome(user: str, out: list) -> str:
        person, conv = await state(hood, user)
        if person is None or person.consent_at:
            return "consented" if person else "gone"
        openings = [hood.core.translator(lang)(key) for lang in ("fr", "en")
                    for key in ("onboarding-hello", "greeting-back")]
        said_again = len(out) == 1 and any(out[0].text.startswith(str(text)) for text in openings)
        return again_or("consent", conv, "?") if not said_again else person.language

    await run_table(hood, "lang", LANGUAGE, to, outcome)


CONSENT: list[Row] = [
    ("fr", "oui", "yes"), ("fr", "Oui !", "yes"), ("fr", "ouais", "yes"), ("fr", "d'accord", "yes"),
    ("fr", "D'accord.", "yes"), ("fr", "ok", "yes"), ("fr", "OK", "yes"), ("fr", "bien sûr", "yes"),
    ("fr", "volontiers", "yes"), ("fr", "oui merci", "yes"), ("fr", "oiu", "yes"), ("fr", "ouii", "yes"),
    ("fr", "d'acord", "yes"), ("fr", "1", "yes"), ("fr", "Oui, d'accord", "yes"), ("fr", "je suis d'accord", "yes"),
    ("fr", "non", "no"), ("fr", "Non merci", "no"), ("fr", "pas maintenant", "no"), ("fr", "2", "no"),
    ("fr", "nan", "no"), ("en", "yes", "yes"), ("en", "Yes!", "yes"), ("en", "yeah", "yes"), ("en", "sure", "yes"),
    ("en", "of course", "yes"), ("en", "yes please", "yes"), ("en", "yse", "yes"), ("en", "I agree", "yes"),
    ("en", "no", "no"), ("en", "No thanks", "no"), ("en", "not now", "no"), ("en", "nope", "no"),
    ("fr", "peut-être", "again"), ("fr", "c'est quoi ?", "again"), ("fr", "4", "again"),
    ("fr", "bonjour", "again"), ("en", "what is this", "again"), ("en", "maybe", "again"),
]


async def test_consent_question(hood: Neighbours) -> None:
    async def to(user: str, lang: str) -> None:
        await hood.say(user, "/start", lang=lang)

    async def outcome(user: str, out: list) -> str:
        person, conv = await state(hood, user)
        if person is None:
            return "no"
        return again_or("consent", conv, "yes" if person.consent_at else "?")

    await run_table(hood, "consent", CONSENT, to, outcome)


PLACE: list[Row] = [
    ("fr", "belleville", "found:Belleville"), ("fr", "Bellevile", "found:Belleville"),
    ("fr", "belelville", "found:Belleville"), ("fr", "j'habite à Belleville", "found:Belleville"),
    ("fr", "charonne", "found:Charonne"), ("fr", "menilmotnant", "found:Ménilmontant"),
    ("fr", "75020", "pick"), ("fr", "paris 20e", "pick"), ("fr", "7e arrondissement de Paris", "found:Paris 7e"),
    ("fr", "6e arrondissement de Marseille", "found:Marseille 6e"), ("fr", "saint denis 93", "found:Saint-Denis"),
    ("fr", "vitry", "pick"), ("fr", "neuilly", "pick"), ("fr", "cherbourg", "pick"), ("fr", "Alice", "confirm"),
    ("fr", "oui", "again"), ("fr", "non", "again"), ("fr", "bonjour", "again"), ("fr", "merci", "again"),
    ("fr", "1", "again"), ("fr", "d'accord", "again"), ("fr", "xqzzwv", "again"), ("en", "yes", "again"),
    ("en", "hello", "again"), ("en", "thanks", "again"), ("en", "2", "again"), ("en", "Toulouse", "found:Toulouse"),
    ("en", "tolouse", "found:Toulouse"), ("en", "bordaeux", "found:Bordeaux"),
]


async def to_place(hood: Neighbours, user: str, lang: str) -> None:
    await hood.say(user, "/start", lang=lang)
    await hood.press(user, "onboarding.consent:yes")


async def place_outcome(hood: Neighbours, user: str) -> str:
    person, conv = await state(hood, user)
    if person is not None and person.place_id:
        place = hood.core.content.places.get(person.place_id)
        return f"found:{place.name}" if place else "found:?"
    if conv is not None and conv.step == "place_pick":
        return "pick"
    if conv is not None and conv.step == "place_confirm":
        return "confirm"
    return again_or("place", conv, "?")


async def test_place_question(hood: Neighbours) -> None:
    async def to(user: str, lang: str) -> None:
        await to_place(hood, user, lang)

    async def outcome(user: str, out: list) -> str:
        return await place_outcome(hood, user)  # "found:Paris 7e Arrondissement" fits "found:Paris 7e"

    await run_table(hood, "place", PLACE, to, outcome)


PLACE_CONFIRM: list[Row] = [
    ("fr", "oui", "found"), ("fr", "1", "found"), ("fr", "oui c'est ça", "found"), ("fr", "d'accord", "found"),
    ("fr", "non", "place"), ("fr", "2", "place"), ("fr", "non, ce n'est pas ça", "place"), ("en", "yes", "found"),
    ("en", "yeah", "found"), ("en", "no", "place"), ("en", "nope", "place"), ("fr", "belleville", "other"),
]


async def test_did_you_mean_a_place(hood: Neighbours) -> None:
    """ "Alice" is one letter from Salice: asked, never assumed; yes, no or another name answer it."""
    async def to(user: str, lang: str) -> None:
        await to_place(hood, user, lang)
        out = await hood.say(user, "Alice")
        assert "Salice (Corse-du-Sud)" in out[0].text
        assert "Vouliez-vous dire" in out[0].text or "Did you mean" in out[0].text

    async def outcome(user: str, out: list) -> str:
        found = await place_outcome(hood, user)
        if found == "found:Salice":
            return "found"
        if found.startswith("found:"):
            return "other"
        return "place" if found == "again" else found

    await run_table(hood, "confirm", PLACE_CONFIRM, to, outcome)


PLACE_PICK: list[Row] = [
    ("fr", "1", "found:Belleville"), ("fr", "2", "found:Ménilmontant"), ("fr", "7", "found:Jourdain"),
    ("fr", "Charonne", "found:Charonne"), ("fr", "gambeta", "found:Gambetta"), ("fr", "aucun", "place"),
    ("fr", "non", "place"), ("fr", "aucun de ceux-là", "place"), ("en", "none of these", "place"),
    ("en", "no", "place"), ("fr", "42", "again"),
]


async def test_which_quarter_of_a_postal_code(hood: Neighbours) -> None:
    """75020 has more quarters than four: all of them are offered, then picked by number or name."""
    async def to(user: str, lang: str) -> None:
        await to_place(hood, user, lang)
        out = await hood.say(user, "75020")
        assert len(out[0].choices) >= 8  # seven quarters or more, and "none of these"

    async def outcome(user: str, out: list) -> str:
        found = await place_outcome(hood, user)
        return "again" if found == "pick" else ("place" if found == "again" else found)

    await run_table(hood, "pick", PLACE_PICK, to, outcome)


INTERESTS: list[Row] = [
    ("fr", "2", "gardening"), ("fr", "2, 5 et 9", "coffee games gardening"), ("fr", "2 5 9", "coffee games gardening"),
    ("fr", "3,4", "cooking reading"), ("fr", "cuisine", "cooking"), ("fr", "Cuisine et lecture", "cooking reading"),
    ("fr", "jardinnage", "gardening"), ("fr", "musique", "music"), ("fr", "11", "next"), ("fr", "continuer", "next"),
    ("fr", "fini", "next"), ("fr", "c'est tout", "next"), ("fr", "non merci", "next"), ("fr", "rien", "next"),
    ("en", "cooking", "cooking"), ("en", "1 and 3", "cooking walks"), ("en", "board games", "games"),
    ("en", "done", "next"), ("en", "no thanks", "next"), ("en", "continue", "next"), ("fr", "12", "again"),
    ("fr", "astrophysique", "again"),
]


async def test_interests_question(hood: Neighbours) -> None:
    async def to(user: str, lang: str) -> None:
        await to_place(hood, user, lang)
        await hood.say(user, "belleville")

    async def outcome(user: str, out: list) -> str:
        _, conv = await state(hood, user)
        if conv is None or conv.step != "interests":
            return "next"
        chosen = conv.data.get("interests", [])
        if not chosen:
            return "again"
        assert len(out) == 1 and not out[0].choices  # one short message, not the whole list again
        return " ".join(sorted(chosen))

    await run_table(hood, "interests", INTERESTS, to, outcome)


CHECKINS: list[Row] = [
    ("fr", "1", "contact"), ("fr", "2", "host"), ("fr", "3", "no"), ("fr", "non", "no"), ("fr", "non merci", "no"),
    ("fr", "animateur", "host"), ("fr", "un voisin", "contact"), ("fr", "oui", "which"), ("en", "no", "no"),
    ("en", "host", "host"), ("en", "neighbour", "contact"), ("en", "yes", "which"), ("fr", "4", "again"),
    ("fr", "prévenir", "which"), ("fr", "oui, le voisin", "contact"), ("fr", "oui l'animateur", "host"),
    ("en", "yes, the host", "host"), ("en", "tell", "which"), ("fr", "bof", "again"),
]


async def test_checkins_question(hood: Neighbours) -> None:
    """Two answers begin with "oui": a bare "oui" cannot say which, so the bot asks which of those two
    (``test_which_of_these.py`` follows that question further)."""
    async def to(user: str, lang: str) -> None:
        await to_place(hood, user, lang)
        await hood.say(user, "belleville")
        await hood.press(user, "onboarding.interests:done")
        labels = [c.payload for c in hood.platform.last(f"dm:{user}").choices]
        assert labels == ["onboarding.checkins:contact", "onboarding.checkins:host", "onboarding.checkins:no"] or \
            labels == ["onboarding.checkins:host", "onboarding.checkins:contact", "onboarding.checkins:no"]

    async def outcome(user: str, out: list) -> str:
        person, conv = await state(hood, user)
        if conv is not None and conv.step == "contact":
            return "contact"
        if conv is not None and conv.step == "checkins":
            asked = len(out) == 1 and len(out[0].choices) == 2 and "pas bien compris" not in out[0].text \
                and "didn't quite understand" not in out[0].text
            return "which" if asked else "again"
        return "host" if person.checkins else "no"

    order = [c.payload.rpartition(":")[2] for c in (await _checkins_buttons(hood))]
    rows = [(lang, typed, order[int(typed) - 1] if typed.isdigit() and int(typed) <= 3 else expected)
            for lang, typed, expected in CHECKINS]
    await run_table(hood, "checkins", rows, to, outcome)


async def _checkins_buttons(hood: Neighbours) -> list:
    await to_place(hood, "probe", "fr")
    await hood.say("probe", "belleville")
    await hood.press("probe", "onboarding.interests:done")
    return list(hood.platform.last("dm:probe").choices)


# ---- members: /forget, /leave, a check-in -----------------------------------------------------------

FORGET: list[Row] = [
    ("fr", "oui", "erased"), ("fr", "1", "erased"), ("fr", "oui, tout effacer", "erased"), ("fr", "d'accord", "erased"),
    ("fr", "non", "kept"), ("fr", "2", "kept"), ("fr", "non, garder", "kept"), ("fr", "pas maintenant", "kept"),
    ("en", "yes", "erased"), ("en", "yeah", "erased"), ("en", "sure", "erased"), ("en", "no", "kept"),
    ("en", "not now", "kept"), ("en", "keep", "kept"),
]


async def test_forget_confirmation(hood: Neighbours) -> None:
    """ "yes" at /forget's confirmation used to cancel silently."""
    async def to(user: str, lang: str) -> None:
        await hood.join(user, lang=lang)
        await hood.say(user, "/forget")

    async def outcome(user: str, out: list) -> str:
        person, _ = await state(hood, user)
        return "erased" if person is None else "kept" if out else "silence"

    await run_table(hood, "forget", FORGET, to, outcome)


LEAVE: list[Row] = [
    ("fr", "oui", "left"), ("fr", "1", "left"), ("fr", "oui, quitter", "left"), ("fr", "ok", "left"),
    ("fr", "non", "stayed"), ("fr", "2", "stayed"), ("fr", "rester", "stayed"), ("en", "yes", "left"),
    ("en", "sure", "left"), ("en", "no", "stayed"), ("en", "stay", "stayed"), ("en", "no thanks", "stayed"),
]


async def test_leave_confirmation(hood: Neighbours) -> None:
    async def to(user: str, lang: str) -> None:
        await hood.join(user, lang=lang)
        await hood.say(user, "/leave")

    async def outcome(user: str, out: list) -> str:
        person, _ = await state(hood, user)
        member = await hood.core.db.scalar("SELECT 1 FROM circle_members WHERE person_id = ?", (person.id,))
        return "stayed" if member else "left"

    await run_table(hood, "leave", LEAVE, to, outcome)


CHECKIN: list[Row] = [
    ("fr", "oui", "fine"), ("fr", "ça va", "fine"), ("fr", "tout va bien", "fine"), ("fr", "1", "fine"),
    ("fr", "2", "chat"), ("fr", "bavarder", "chat"), ("fr", "non", "chat"), ("fr", "absent", "away"),
    ("fr", "ne plus me demander", "stop"), ("en", "yes", "fine"), ("en", "I'm fine", "fine"), ("en", "a chat", "chat"),
    ("en", "no", "chat"), ("en", "stop asking me", "stop"),
]


async def test_checkin_answers(hood: Neighbours) -> None:
    """A check-in answered in words: "non" to "is all well?" is a wish to talk, never lost."""
    async def to(user: str, lang: str) -> None:
        await hood.join(user, lang=lang)
        async with hood.core.db.transaction():
            old = (hood.clock.now() - timedelta(days=20)).isoformat(timespec="seconds")
            await hood.core.db.execute("UPDATE people SET last_active_at = ? WHERE id = ?",
                                       (old, (await state(hood, user))[0].id))
        assert await daily_pass(hood.core, hood.clock.now()) == 1
        await hood.core.settle()
        assert hood.platform.last(f"dm:{user}").choices[0].payload.startswith("checkin:fine:")

    async def outcome(user: str, out: list) -> str:
        person, conv = await state(hood, user)
        if person is None:
            return "gone"
        if conv is not None and conv.step == "until":  # "away" first asks until when
            return "away"
        answer = await hood.core.db.scalar("SELECT answer FROM checkins WHERE person_id = ?", (person.id,))
        return answer or "unanswered"

    await run_table(hood, "checkin", CHECKIN, to, outcome)


# ---- the event wizard -------------------------------------------------------------------------------

WHEN_OK: list[Row] = [
    ("fr", "oui", "where"), ("fr", "Oui c'est ça", "where"), ("fr", "1", "where"), ("fr", "d'accord", "where"),
    ("fr", "parfait", "where"), ("fr", "non", "when"), ("fr", "2", "when"), ("fr", "non je corrige", "when"),
    ("fr", "dimanche 16h", "when_ok"), ("en", "yes", "where"), ("en", "yep", "where"), ("en", "no", "when"),
]
PREVIEW: list[Row] = [
    ("fr", "1", "published"), ("fr", "publier", "published"), ("fr", "oui", "published"), ("fr", "2", "discarded"),
    ("fr", "abandonner", "discarded"), ("en", "publish", "published"), ("en", "discard", "discarded"),
    ("fr", "peut-être", "again"),
]
EVENT_INTERESTS: list[Row] = [
    ("fr", "4", "reading"), ("fr", "1, 3", "cooking walks"), ("fr", "lecture", "reading"), ("fr", "fini", "next"),
    ("en", "music and reading", "music reading"), ("en", "done", "next"),
]


async def test_event_wizard_answers(hood: Neighbours) -> None:
    """ "oui" at the date confirmation used to be read as a date ("Je n'ai pas compris « oui »")."""
    await make_moderator(hood)
    await make_organizer(hood)
    total = 0

    async def begin(step: str, lang: str) -> None:
        await hood.say("shop", "/annuler")
        await hood.say("shop", "/evenement")
        await hood.say("shop", "Atelier tricot")
        await hood.say("shop", "samedi 15h")
        if step == "when_ok":
            return
        await hood.press("shop", "event.when_ok:yes")
        await hood.say("shop", "Salle des fêtes")
        await hood.say("shop", "On tricote.")
        if step == "interests":
            return
        await hood.press("shop", "event.interests:done")
        await hood.say("shop", "non")

    for step, rows in (("when_ok", WHEN_OK), ("interests", EVENT_INTERESTS), ("preview", PREVIEW)):
        failures = []
        for lang, typed, expected in rows:
            async with hood.core.db.transaction():
                await hood.core.db.execute("UPDATE people SET language = ? WHERE id = ?",
                                           (lang, (await state(hood, "shop"))[0].id))
                await hood.core.db.execute("DELETE FROM events")
            await begin(step, lang)
            hood.clock.advance(minutes=1)
            out = await hood.say("shop", typed)
            _, conv = await state(hood, "shop")
            if step == "interests":
                got = "next" if conv is None or conv.step != "interests" else " ".join(sorted(conv.data["interests"]))
            elif step == "preview":
                status = await hood.core.db.scalar("SELECT status FROM events")
                got = "again" if conv is not None else ("published" if status == "published" else
                                                       "discarded" if status is None else str(status))
            else:
                got = conv.step if conv else "gone"
            if got != expected:
                said = [m.text[:60] for m in out]
                failures.append(f"{step} {lang} {typed!r}: expected {expected}, got {got}: {said}")
        assert not failures, "\n".join(failures)
        total += len(rows)
    assert total >= 26


def test_the_table_is_big_enough() -> None:
    rows = [LANGUAGE, CONSENT, PLACE, PLACE_CONFIRM, PLACE_PICK, INTERESTS, CHECKINS, FORGET, LEAVE, CHECKIN, WHEN_OK,
            PREVIEW, EVENT_INTERESTS]
    assert sum(len(r) for r in rows) >= 150
    assert {lang for table in rows for lang, _, _ in table} == {"fr", "en"}
