"""/affiche (/poster): a printable poster and card whose QR code opens the bot in the neighbourhood, and
the count of neighbours each poster brought — never who."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
import segno
from pypdf import PdfReader

from bot.storage import posters
from tests.core.activity_helpers import make_moderator, make_organizer, person_id
from tests.core.conftest import Neighbours

BOT = "VoisinageBelleville_bot"


@pytest.fixture
async def shop(hood: Neighbours) -> Neighbours:
    """A moderator of Belleville, an approved shop (Boulangerie Martin), and a bot with a Telegram name."""
    config = hood.core.config
    hood.core.config = replace(config, telegram=replace(config.telegram, username=BOT),
                               matrix=replace(config.matrix, user_id="@voisinage:example.org"))
    await make_moderator(hood)
    await make_organizer(hood)
    return hood


def qr_cells(content: bytes) -> set[tuple[int, int]]:
    """The dark modules a page draws, as (row, column), read back from its filled rectangles."""
    rects = [tuple(map(float, m.groups())) for m in
             re.finditer(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re\s+f", content)]
    assert rects, "no QR code drawn"
    module = min(abs(h) for _, _, _, h in rects)
    left, top = min(x for x, _, _, _ in rects), max(y for _, y, _, _ in rects)
    cells = set()
    for x, y, w, _h in rects:
        row, col = round((top - y) / module), round((x - left) / module)
        cells.update((row, col + i) for i in range(round(w / module)))
    return cells


def expected_cells(link: str) -> set[tuple[int, int]]:
    matrix = segno.make_qr(link, error="m").matrix
    return {(r, c) for r, line in enumerate(matrix) for c, dark in enumerate(line) if dark}


def font_sizes(content: bytes) -> list[float]:
    return [float(s) for s in re.findall(rb"/F\d+ ([\d.]+) Tf", content)]


async def test_a_shop_gets_a_pdf_whose_qr_code_opens_the_bot_in_its_neighbourhood(shop: Neighbours) -> None:
    """Reproduces the issue's "done when": a shopkeeper types /affiche and gets a PDF (an A4 poster and an
    A6 card) whose QR code is the Telegram link with the neighbourhood and the poster's own token."""
    out = await shop.say("shop", "/affiche")
    assert "Voici l'affiche et la carte pour Belleville" in out[-2].text and "0 voisin a rejoint" in out[-2].text
    document = out[-1].attachment
    assert document is not None and document.mime_type == "application/pdf"
    assert document.filename == "affiche-belleville.pdf"
    async with shop.core.db.transaction():
        (poster,) = await posters.in_places(shop.core.db, ["nb:belleville"])
    assert poster.label == "Boulangerie Martin" and poster.person_id == await person_id(shop, "shop")
    link = f"https://t.me/{BOT}?start=p-nb__belleville--{poster.token}"

    reader = PdfReader(io.BytesIO(document.data))
    a4, a6 = reader.pages
    assert (round(float(a4.mediabox.width)), round(float(a4.mediabox.height))) == (595, 842)
    assert (round(float(a6.mediabox.width)), round(float(a6.mediabox.height))) == (298, 420)
    for page in (a4, a6):
        content = page.get_contents().get_data()
        assert qr_cells(content) == expected_cells(link)
        assert min(font_sizes(content)) >= 18  # large type everywhere
    text = " ".join(a4.extract_text().split())
    for words in ("Rejoignez les voisins de Belleville", "avec Boulangerie Martin", "Sans scanner",
                  f"cherchez @{BOT}", f"/start p-nb__belleville--{poster.token}", "@voisinage:example.org",
                  f"t.me/{BOT}"):
        assert words in text, (words, text)
    assert "Les voisins de Belleville" in " ".join(a6.extract_text().split())


async def test_neighbours_who_join_through_a_poster_are_counted_never_named(shop: Neighbours) -> None:
    """Reproduces: a poster's maker could not see whether it brought anyone. Two newcomers start from the
    poster's link (the place question is skipped), one more from the plain link; the poster counts 2,
    /affiche and /stats say so, and nothing on the newcomers' records tells where they came from."""
    await shop.say("shop", "/affiche")
    token = (await posters.in_places(shop.core.db, ["nb:belleville"]))[0].token
    for user in ("nina", "noe"):
        await shop.say(user, f"/start p-nb__belleville--{token}")
        out = await shop.press(user, "onboarding.consent:yes")
        assert "Belleville" in out[-1].text  # no place question: the link chose it
        await shop.press(user, "onboarding.interests:done")
        await shop.press(user, "onboarding.checkins:host")
    await shop.join("other")
    out = await shop.say("shop", "/affiche")
    assert "2 voisins ont rejoint" in out[-2].text
    out = await shop.say("mod", "/stats")
    assert any("Boulangerie Martin (Belleville) : 2" in m.text for m in out)
    rows = []
    for table in ("people", "conversations"):
        rows += [str(tuple(r)) for r in await shop.core.db.fetchall(f"SELECT * FROM {table}")]
    assert len(rows) > 4 and token not in " ".join(rows)


async def test_a_stale_or_foreign_token_counts_nothing(shop: Neighbours) -> None:
    """A made-up token still opens the neighbourhood (the place is in the link) but counts for no poster;
    a poster's token used with another neighbourhood counts nothing either."""
    await shop.say("shop", "/affiche")
    token = (await posters.in_places(shop.core.db, ["nb:belleville"]))[0].token
    await shop.say("zed", "/start p-nb__belleville--zzzzzzzz")
    out = await shop.press("zed", "onboarding.consent:yes")
    assert "Belleville" in out[-1].text
    await shop.say("yan", f"/start p-nb__charonne--{token}")
    for user in ("zed", "yan"):
        if user == "yan":
            await shop.press(user, "onboarding.consent:yes")
        await shop.press(user, "onboarding.interests:done")
        await shop.press(user, "onboarding.checkins:host")
    assert (await posters.by_token(shop.core.db, token)).joins == 0


async def test_who_may_ask_and_bad_input_change_nothing(shop: Neighbours) -> None:
    await shop.join("bob")
    out = await shop.say("bob", "/affiche")
    assert "organisateurs approuvés" in out[-1].text
    out = await shop.say("mod", "/affiche Charonne")
    assert "Vous pouvez faire une affiche pour vos quartiers : Belleville" in out[-1].text
    out = await shop.say("mod", "/affiche xqzwv")
    assert "Je ne connais pas le quartier « xqzwv »" in out[-1].text
    assert await posters.in_places(shop.core.db, None) == []
    out = await shop.say("mod", "/poster belleville")  # a moderator's poster: no shop's name on it
    assert out[-1].attachment is not None
    (poster,) = await posters.in_places(shop.core.db, None)
    assert poster.label == "" and poster.organizer_id is None
    await shop.say("mod", "/poster belleville")  # asked again: the same poster, the same link
    assert len(await posters.in_places(shop.core.db, None)) == 1


async def test_without_a_bot_address_the_poster_is_refused_with_what_to_configure(hood: Neighbours) -> None:
    await make_moderator(hood)
    out = await hood.say("mod", "/affiche")
    assert "[telegram] username" in out[-1].text and out[-1].attachment is None
    assert await posters.in_places(hood.core.db, None) == []


async def test_forget_keeps_the_poster_working_but_forgets_who_asked(shop: Neighbours) -> None:
    """/mydata shows the posters someone asked for; /forget leaves the posters (they are on walls, their
    links must keep working) but forgets who asked."""
    await shop.say("shop", "/affiche")
    assert posters.export in shop.core.hooks.exporters and posters.erase in shop.core.hooks.erasers
    pid = await person_id(shop, "shop")
    assert (await posters.export(shop.core.db, pid))["posters"][0]["label"] == "Boulangerie Martin"
    async with shop.core.db.transaction():
        await posters.erase(shop.core.db, pid)
    (poster,) = await posters.in_places(shop.core.db, None)
    assert poster.person_id is None and await posters.by_token(shop.core.db, poster.token) == poster
    assert await posters.export(shop.core.db, pid) == {}


async def test_the_running_telegram_bot_names_itself_without_any_setting(hood: Neighbours) -> None:
    """The running adapter learnt its @name from Telegram (getMe): the poster links to it, and the Matrix
    line is left out when the deployment has no Matrix account."""
    from bot.core.start_codes import join_links

    class RunningTelegram:
        username = "QuartierBot"

    hood.core.transports["telegram"] = RunningTelegram()  # type: ignore[assignment]
    try:
        links = join_links(hood.core, "nb:belleville", "ab12cd34")
    finally:
        del hood.core.transports["telegram"]
    assert links is not None and links.main == "https://t.me/QuartierBot?start=p-nb__belleville--ab12cd34"
    assert links.matrix == "" and join_links(hood.core, "nb:belleville") is None


def test_long_names_never_run_off_the_paper() -> None:
    """Reproduces: with a long association name and a long Matrix address the poster's last lines were
    drawn below the bottom of the A4 page. Now the QR code shrinks first, then the text goes on to a
    next page; every line is on paper, and nothing is smaller than 18 pt."""
    from bot.activities.posters import PosterText, render

    command = "/start p-nb__saint-germain-des-pres--5uklcqz4"
    text = PosterText(
        "Rejoignez les voisins de Saint-Germain-des-Prés-et-Alentours",
        "avec l'Association des Commerçants et Artisans du Haut-Belleville et du Bas-Ménilmontant",
        ("Voisinage : un petit groupe de voisins pour se parler, et les activités du quartier.",
         "Et si vous le voulez, quelqu'un prend de vos nouvelles.", "Gratuit, sur votre téléphone."),
        "Scannez avec l'appareil photo du téléphone, ou ouvrez :", "Sans scanner :",
        (("Dans Telegram, cherchez @VoisinageBellevilleParis20_bot, puis écrivez :", command),
         ("Dans Element (Matrix), écrivez à @voisinage-belleville:matrix.example.org :", command)),
        ("L'agenda du quartier, sur internet :", "https://voisins.example.org/agenda/saint-germain-des-pres"),
        "Les voisins de Saint-Germain-des-Prés-et-Alentours", "Scannez pour nous rejoindre")
    link = "https://t.me/VoisinageBellevilleParis20_bot?start=p-nb__saint-germain-des-pres--5uklcqz4"
    reader = PdfReader(io.BytesIO(render(text, link)))
    assert round(float(reader.pages[0].mediabox.height)) == 842
    assert round(float(reader.pages[-1].mediabox.height)) == 420  # the card comes last
    printed = []
    for page in reader.pages:
        heights = []
        page.extract_text(visitor_text=lambda t, cm, tm, font, size, seen=heights: seen.append(tm[5])
                          if t.strip() else None)
        assert heights and min(heights) > 0 and max(heights) < float(page.mediabox.height)
        assert min(font_sizes(page.get_contents().get_data())) >= 18
        printed.append(" ".join(page.extract_text().split()))
    assert command in " ".join(printed) and "agenda/saint-germain-des-pres" in " ".join(printed).replace(" ", "")
    assert qr_cells(reader.pages[0].get_contents().get_data()) == expected_cells(link)


async def test_with_a_public_address_the_poster_prints_a_short_link_that_sends_on_to_the_bot(
        shop: Neighbours) -> None:
    """With ``[web] public_url``, the QR code and the printed link are ``<public_url>/j/<token>`` (short to
    type, a smaller code with larger squares), and the bot's HTTP server sends that on to the bot."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.core.config import Web
    from bot.operations import web

    shop.core.config = replace(shop.core.config, web=Web(enabled=True, public_url="https://voisins.example.org"))
    out = await shop.say("shop", "/affiche")
    token = (await posters.in_places(shop.core.db, ["nb:belleville"]))[0].token
    short = f"https://voisins.example.org/j/{token}"
    page = PdfReader(io.BytesIO(out[-1].attachment.data)).pages[0]
    assert qr_cells(page.get_contents().get_data()) == expected_cells(short)
    text = " ".join(page.extract_text().split())
    assert f"voisins.example.org/j/{token}" in text and "voisins.example.org/agenda/belleville" in text
    client = TestClient(TestServer(web.application(shop.core), host="127.0.0.1"))
    await client.start_server()
    try:
        answer = await client.get(f"/j/{token}", allow_redirects=False)
        assert answer.status == 302
        assert answer.headers["Location"] == f"https://t.me/{BOT}?start=p-nb__belleville--{token}"
        for wrong in ("zzzzzzzz", "x" * 200, "../admin"):
            assert (await client.get(f"/j/{wrong}", allow_redirects=False)).status == 404
    finally:
        await client.close()
