"""Shared steps for the activity tests: a moderator, an approved organizer, a published event."""

from __future__ import annotations

from bot.core import roles
from bot.storage import people
from tests.core.conftest import Neighbours


async def person_id(hood: Neighbours, user: str) -> int:
    person = await people.by_identity(hood.core.db, "fake", user)
    assert person is not None
    return person.id


async def make_moderator(hood: Neighbours, user: str = "mod", place: str = "nb:belleville") -> int:
    await hood.join(user)
    pid = await person_id(hood, user)
    async with hood.core.db.transaction():
        await roles.grant_moderator(hood.core.db, pid, place, None, hood.clock.now())
    return pid


async def apply_as_organizer(hood: Neighbours, user: str = "shop", name: str = "Boulangerie Martin") -> None:
    await hood.join(user)
    await hood.say(user, "/organisateur")
    await hood.say(user, name)
    await hood.press(user, "Un commerce")
    await hood.press(user, "organizer.places:done")
    await hood.say(user, "12 rue de Belleville")


async def make_organizer(hood: Neighbours, user: str = "shop", *, trusted: bool = True, mod: str = "mod") -> None:
    """Apply, then the moderator approves (as trusted or not)."""
    await apply_as_organizer(hood, user)
    await hood.press(mod, "⭐ Accepter, publie sans validation" if trusted else "✅ Accepter")


async def type_event(hood: Neighbours, user: str = "shop", *, title: str = "Atelier tricot", when: str = "samedi 15h",
                     capacity: str = "non", publish: bool = True) -> list:
    """The whole /evenement conversation with plain answers; returns the last messages."""
    await hood.say(user, "/evenement")
    await hood.say(user, title)
    await hood.say(user, when)
    await hood.press(user, "Oui, c'est ça")
    await hood.say(user, "Salle des fêtes, 3 rue Ramponeau")
    await hood.say(user, "On tricote ensemble, débutants bienvenus.")
    await hood.press(user, "event.interests:done")
    await hood.say(user, capacity)
    return await hood.press(user, "✅ Publier" if publish else "🗑 Abandonner")
