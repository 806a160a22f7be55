"""The agenda page as a person sees it: the bot's HTTP server on 127.0.0.1, the page opened in a real
headless Chromium, what is on screen checked (headings, the activity, the join link), screenshots on a
large screen and on a phone saved in the test's directory, and the accessibility checks that run
offline: one h1 and no skipped heading level, a language, no image without alt, no unlabelled field,
links with names, no duplicate id, 18 px text, colour contrast of every piece of text (WCAG AA, computed
from the colours the browser resolved), nothing wider than a phone, and the browser's own accessibility
tree (what a screen reader reads) holding the headings and links.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web as aioweb

from bot.core.config import CONTENT_DIR, Web
from bot.operations import web
from tests.core.activity_helpers import make_moderator, make_organizer, type_event
from tests.core.conftest import Neighbours
from tests.web import browser

BOT = "VoisinageBelleville_bot"

CHECKS = r"""
(() => {
  const shown = el => { const s = getComputedStyle(el); return s.display !== 'none' && s.visibility !== 'hidden'; };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c !== 'transparent' && !/rgba\(.*, 0\)$/.test(c)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const texts = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (own && shown(el)) {
      const s = getComputedStyle(el);
      texts.push({tag: el.tagName, text: el.textContent.trim().slice(0, 40), color: s.color,
                  background: background(el), size: parseFloat(s.fontSize), weight: Number(s.fontWeight)});
    }
  }
  return {
    lang: document.documentElement.lang, title: document.title,
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]
      .map(h => [Number(h.tagName[1]), h.textContent.trim()]),
    links: [...document.querySelectorAll('a')]
      .map(a => ({name: (a.textContent.trim() || a.getAttribute('aria-label') || ''), href: a.href})),
    imagesWithoutAlt: document.querySelectorAll('img:not([alt])').length,
    unlabelled: [...document.querySelectorAll('input,select,textarea')].filter(i => !(i.labels && i.labels.length)
                                                                           && !i.getAttribute('aria-label')).length,
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    scripts: document.scripts.length,
    texts,
    overflow: document.documentElement.scrollWidth > window.innerWidth,
    bodySize: parseFloat(getComputedStyle(document.body).fontSize),
  };
})()
"""


def luminance(colour: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", colour)[:3])

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def accessibility_problems(found: dict) -> list[str]:
    problems = []
    levels = [level for level, _ in found["headings"]]
    if levels.count(1) != 1:
        problems.append(f"{levels.count(1)} h1")
    problems += [f"heading level skipped before {text!r}" for (before, _), (level, text)
                 in zip(found["headings"], found["headings"][1:], strict=False) if level > before + 1]
    if not found["lang"]:
        problems.append("no lang attribute")
    if found["imagesWithoutAlt"] or found["unlabelled"]:
        problems.append("image without alt or field without label")
    problems += [f"link without a name: {link['href']}" for link in found["links"] if not link["name"]]
    if len(found["ids"]) != len(set(found["ids"])):
        problems.append("duplicate id")
    if found["bodySize"] < 18:
        problems.append(f"body text {found['bodySize']} px")
    for item in found["texts"]:
        large = item["size"] >= 24 or (item["size"] >= 18.66 and item["weight"] >= 700)
        ratio = contrast(item["color"], item["background"])
        if ratio < (3 if large else 4.5):
            problems.append(f"contrast {ratio:.1f} for {item['text']!r}")
        if item["size"] < 16:
            problems.append(f"{item['size']} px text: {item['text']!r}")
    return problems


def test_the_contrast_check_can_fail() -> None:
    """The checker itself: grey on white fails, the page's colours pass."""
    grey = {"headings": [(1, "x")], "lang": "fr", "imagesWithoutAlt": 0, "unlabelled": 0, "links": [], "ids": [],
            "bodySize": 18, "texts": [{"text": "x", "color": "rgb(170, 170, 170)",
                                       "background": "rgb(255, 255, 255)", "size": 18, "weight": 400}]}
    assert accessibility_problems(grey) == ["contrast 2.3 for 'x'"]
    assert contrast("rgb(26, 26, 26)", "rgb(255, 255, 255)") > 12


def test_every_colour_pair_of_the_stylesheet_has_aa_contrast() -> None:
    """Offline too (no browser): each text colour of the page's CSS against each background it sits on."""
    css = (CONTENT_DIR / "web" / "base.html").read_text(encoding="utf-8")
    colours = {name: "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))
               for name, h in (("text", "1a1a1a"), ("link", "0b4f9c"), ("white", "ffffff"), ("panel", "f2f2f2"))}
    for value in ("#1a1a1a", "#0b4f9c", "#ffffff", "#f2f2f2"):
        assert value in css
    for text, ground in (("text", "white"), ("text", "panel"), ("link", "white"), ("link", "panel"),
                         ("white", "link")):  # the join button: white on the link colour
        assert contrast(colours[text], colours[ground]) >= 4.5, (text, ground)


@pytest.fixture
async def served(hood: Neighbours):
    """The bot's HTTP server on a free port of 127.0.0.1, with one published activity in Belleville."""
    if browser.executable() is None:
        pytest.skip(browser.INSTALL_HINT)
    config = hood.core.config
    hood.core.config = replace(config, web=Web(enabled=True), telegram=replace(config.telegram, username=BOT))
    await make_moderator(hood)
    await make_organizer(hood)
    await type_event(hood)
    runner = aioweb.AppRunner(web.application(hood.core), access_log=None)
    await runner.setup()
    site = aioweb.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_a_person_sees_the_agenda_in_a_real_browser(served: str, tmp_path: Path) -> None:
    async with browser.chromium(tmp_path / "profile") as page:
        await page.open(f"{served}/agenda/belleville")
        found = await page.evaluate(CHECKS)
        shot = await page.screenshot(tmp_path / "agenda-desktop.png")
        tree = await page.accessibility_tree()
        await page.open(f"{served}/agenda/belleville", width=390, height=844, mobile=True)
        on_phone = await page.evaluate(CHECKS)
        phone_shot = await page.screenshot(tmp_path / "agenda-phone.png")

    assert found["lang"] == "fr" and found["title"] == "Agenda de Belleville" and found["scripts"] == 0
    assert found["headings"][:2] == [[1, "Agenda de Belleville"], [2, "Prochaines activités"]]
    assert [3, "Atelier tricot"] in found["headings"]
    on_screen = {item["text"] for item in found["texts"]}
    assert "Samedi 28 novembre 2026, 15:00" in on_screen and "Boulangerie Martin" in on_screen
    join = [link for link in found["links"] if link["href"].startswith("https://t.me/")]
    assert join == [{"name": "Rejoindre sur Telegram", "href": f"https://t.me/{BOT}?start=p-nb__belleville"}]
    assert any(link["href"].endswith("/agenda/belleville/1.ics") for link in found["links"])

    assert accessibility_problems(found) == []
    assert accessibility_problems(on_phone) == [] and not on_phone["overflow"]
    read = [(node.get("role", {}).get("value"), node.get("name", {}).get("value")) for node in tree
            if not node.get("ignored")]
    assert ("heading", "Agenda de Belleville") in read and ("heading", "Atelier tricot") in read
    assert ("link", "Rejoindre sur Telegram") in read
    for data in (shot, phone_shot):
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    print(f"screenshots: {tmp_path / 'agenda-desktop.png'}, {tmp_path / 'agenda-phone.png'}")
