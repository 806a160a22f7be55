"""No one acts where they do not belong: organizer approval per neighbourhood, buttons before joining,
and the onboarding gates when the neighbourhood changes in /profile."""

from __future__ import annotations

from bot.core.chat import ChoiceIn
from bot.storage import organizers, people
from tests.core.activity_helpers import make_moderator, person_id
from tests.core.conftest import Neighbours


async def apply_for(hood: Neighbours, places: str) -> None:
    """``shop`` (from Belleville) applies as an organizer for Belleville and the places typed."""
    await hood.join("shop")
    await hood.say("shop", "/organisateur")
    await hood.say("shop", "Boulangerie Martin")
    await hood.press("shop", "Un commerce")
    await hood.say("shop", places)
    await hood.press("shop", "organizer.places:done")
    await hood.say("shop", "12 rue de Belleville")


async def place_rows(hood: Neighbours) -> dict[str, tuple[str, int]]:
    rows = await hood.core.db.fetchall("SELECT place_id, status, trusted FROM organizer_places")
    return {r["place_id"]: (r["status"], r["trusted"]) for r in rows}


async def test_a_moderator_approves_an_organizer_only_in_their_own_neighbourhood(hood: Neighbours) -> None:
    """Reproduces: one moderator of any one listed neighbourhood approved (and trusted) the organizer in
    every neighbourhood the applicant chose to list."""
    await make_moderator(hood, "mod", "nb:belleville")
    await make_moderator(hood, "modcharonne", "nb:charonne")
    await apply_for(hood, "Charonne, Gambetta")  # Gambetta has no moderator: the admins would decide
    assert "Nouvelle demande" in hood.texts("modcharonne")[-1]
    await hood.press("mod", "⭐ Accepter, publie sans validation")
    assert await place_rows(hood) == {
        "nb:belleville": ("approved", 1), "nb:charonne": ("pending", 0), "nb:gambetta": ("pending", 0)
    }
    organizer = await organizers.get(hood.core.db, 1)
    assert organizer.approved and organizer.places == ("nb:belleville",) and organizer.trusted
    assert "Belleville" in hood.texts("shop")[-1] and "Charonne" not in hood.texts("shop")[-1]
    out = await hood.send("mod", ChoiceIn("orgmod:1:ok"))  # again: nothing left that is theirs to decide
    assert "déjà été traitée" in out[0].text
    await hood.press("modcharonne", "❌ Refuser")
    assert (await place_rows(hood))["nb:charonne"] == ("rejected", 0)
    organizer = await organizers.get(hood.core.db, 1)
    assert organizer.places == ("nb:belleville",) and organizer.status == "approved"
    # /trust by Charonne's moderator cannot make it trusted where it is approved (Belleville)
    await hood.say("mod", "/confiance Boulangerie Martin")  # Belleville's own moderator may: untrusted there
    assert (await place_rows(hood))["nb:belleville"] == ("approved", 0)
    out = await hood.say("modcharonne", "/confiance Boulangerie Martin")
    assert "Seuls les modérateurs de Belleville" in out[0].text
    assert (await place_rows(hood))["nb:belleville"] == ("approved", 0)


async def test_events_go_only_where_the_organizer_is_approved(hood: Neighbours) -> None:
    """The wizard offers (and announces in) the approved neighbourhoods, not every one applied for."""
    await make_moderator(hood, "mod", "nb:belleville")
    await apply_for(hood, "Charonne")
    await hood.press("mod", "✅ Accepter")
    organizer = await organizers.get(hood.core.db, 1)
    assert organizer.requested == ("nb:belleville", "nb:charonne") and organizer.places == ("nb:belleville",)
    assert not organizer.trusted


async def test_buttons_do_nothing_before_onboarding_is_finished(hood: Neighbours) -> None:
    """Reproduces: a member's button (here the weekly digest) acted for someone still joining."""
    await hood.say("eve", "/start")
    out = await hood.send("eve", ChoiceIn("digest:on"))
    assert "une fois votre inscription terminée" in out[0].text
    assert [c.label for c in out[-1].choices] == ["Oui, d'accord", "Non merci", "English"]  # back to her question
    eve = await person_id(hood, "eve")
    assert await hood.core.db.scalar("SELECT COUNT(*) FROM digest_members WHERE person_id = ?", (eve,)) == 0
    out = await hood.send("eve", ChoiceIn("checkin:fine:1"))
    assert "une fois votre inscription terminée" in out[0].text
    await hood.join("eve")
    assert (await people.get(hood.core.db, eve)).onboarded
    out = await hood.send("eve", ChoiceIn("digest:on"))  # a member's button works
    assert "une fois votre inscription terminée" not in out[0].text
