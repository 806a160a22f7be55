"""Posters and cards to print (/affiche, /poster, ``voisinage poster``): how a baker, a pharmacist or a
postman brings in the neighbours who would never find a bot by themselves.

One PDF: an A4 poster and an A6 card, in the deployment's language, for one neighbourhood: a large QR
code and the short link that open the bot with the neighbourhood already chosen, a few plain lines on
what it is, the shop's or association's name when an organizer asks, and a text version for those who
cannot scan. Large type (18 pt and more), black on white. Each link carries its poster's token, so its
maker sees how many neighbours joined through it — a count, never who (``bot.storage.posters``).

The PDF is drawn by fpdf2 (the QR code by segno, drawn as vector squares so it prints sharp at any size)
after the handler's transaction commits (deferred work), like the /stats chart.
"""

from __future__ import annotations

import asyncio
import functools
import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import segno
from aiohttp import web
from fpdf import FPDF

from bot.activities import agenda_page
from bot.core import access
from bot.core.chat import Attachment, Outgoing
from bot.core.hooks import ModeratorCommand
from bot.core.places import Place
from bot.core.router import Command, Context
from bot.core.start_codes import JoinLinks, join_links
from bot.storage import organizers, posters
from bot.storage.database import Database

WORK = "poster-pdf"
BODY_PT = 18  # the smallest type anywhere on the poster and the card
CARD_PT = 18


# ---- the PDF ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PosterText:
    """Every line printed, already in the deployment's language (plain text, not HTML)."""

    title: str
    organizer: str
    what: tuple[str, ...]
    scan: str
    text_title: str
    text_lines: tuple[tuple[str, str], ...]  # (how to get there, the line to write)
    agenda: tuple[str, str]  # (what it is, its address), or empty
    card_title: str
    card_scan: str


def texts(core, place: Place, links: JoinLinks, organizer: str) -> PosterText:
    t = core.t_default

    def plain(key: str, **values: object) -> str:
        return html.unescape(str(t(key, **values)))

    bot = core.config.deployment.name
    lines = []
    command = f"/start {links.code}"
    if links.telegram:
        lines.append((plain("poster-text-telegram", bot=links.telegram_bot), command))
    if links.matrix:
        lines.append((plain("poster-text-matrix", user=links.matrix_user), command))
    public = core.config.web.public_url.rstrip("/")
    agenda = (plain("poster-agenda"), f"{public}/agenda/{agenda_page.slug(place)}") if public else ("", "")
    return PosterText(
        title=plain("poster-title", place=place.name),
        organizer=plain("poster-with", organizer=organizer) if organizer else "",
        what=(plain("poster-what-1", bot=bot), plain("poster-what-2"), plain("poster-what-3")),
        scan=plain("poster-scan"), text_title=plain("poster-text-title"), text_lines=tuple(lines), agenda=agenda,
        card_title=plain("poster-card-title", place=place.name), card_scan=plain("poster-card-scan"),
    )


def _fonts() -> tuple[str, str] | None:
    """DejaVu Sans (regular, bold), shipped with matplotlib (already a dependency): every French and
    English character, where the PDF standard fonts know only Latin-1 (no « — ’)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    return (str(regular), str(bold)) if regular.exists() and bold.exists() else None


@functools.lru_cache(maxsize=64)
def _qr_matrix(data: str) -> tuple:
    """Encoded once per link (a poster's trial pages and its final pages draw the same code)."""
    return segno.make_qr(data, error="m").matrix  # never a Micro QR: phones read those badly


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_creator("Voisinage")
        fonts = _fonts()
        if fonts:
            self.add_font("body", "", fonts[0])
            self.add_font("body", "B", fonts[1])
            self.family = "body"
        else:  # pragma: no cover - matplotlib always ships its fonts
            self.family = "helvetica"
        self.set_text_color(0, 0, 0)
        self.set_fill_color(0, 0, 0)

    def write_lines(self, text: str, size: float, *, bold: bool = False, align: str = "C",
                    by_char: bool = False) -> None:
        if not text:
            return
        self.set_font(self.family, "B" if bold else "", size)
        if self.family == "helvetica":  # pragma: no cover
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.multi_cell(0, size * 0.42, text, align=align, new_x="LMARGIN", new_y="NEXT",
                        wrapmode="CHAR" if by_char else "WORD")

    def qr(self, data: str, x: float, y: float, size: float) -> None:
        """The code as filled squares (one run of dark modules per rectangle), quiet zone included."""
        matrix = _qr_matrix(data)
        border = 4
        module = size / (len(matrix) + 2 * border)
        for row, line in enumerate(matrix):
            col = 0
            while col < len(line):
                if not line[col]:
                    col += 1
                    continue
                start = col
                while col < len(line) and line[col]:
                    col += 1
                self.rect(x + (border + start) * module, y + (border + row) * module,
                          (col - start) * module, module, style="F")


POSTER_QR = (92.0, 80.0, 70.0, 60.0)  # mm; 60 is still read by a phone from about a metre away
CARD_QR = (62.0, 54.0, 48.0, 42.0)


def render(text: PosterText, link: str) -> bytes:
    """The PDF: the A4 poster, then the A6 card. A long name or a long Matrix address takes room: the QR
    code shrinks until everything fits; past that, the text goes on to a next page rather than off the
    paper (type is never made smaller than 18 pt)."""
    pdf, trials = _Document(), _Document()  # trials: pages drawn only to see whether they fit
    for draw, sizes in ((_poster_page, POSTER_QR), (_card_page, CARD_QR)):
        size = next((s for s in sizes if draw(trials, text, link, s)), None)
        if size is None:
            pdf.set_auto_page_break(True, margin=8)
        draw(pdf, text, link, size or sizes[-1])
        pdf.set_auto_page_break(False)
    return bytes(pdf.output())


def _link_lines(link: str) -> str:
    """The link without "https://", cut before "?" so it never breaks in the middle of a word."""
    short = link.removeprefix("https://")
    return short.replace("?", "\n?", 1) if len(short) > 34 else short


def _poster_page(pdf: _Document, text: PosterText, link: str, size: float) -> bool:
    pdf.add_page(format="A4")
    pdf.set_margins(18, 14, 18)
    pdf.set_y(14)
    pdf.write_lines(text.title, 36, bold=True)
    pdf.write_lines(text.organizer, 26, bold=True)
    pdf.ln(3)
    for line in text.what:
        pdf.write_lines(line, BODY_PT)
        pdf.ln(1)
    top = pdf.get_y() + 2
    pdf.qr(link, (pdf.w - size) / 2, top, size)
    pdf.set_y(top + size + 1)
    pdf.write_lines(text.scan, BODY_PT)
    pdf.write_lines(_link_lines(link), BODY_PT, bold=True, by_char=True)
    pdf.ln(3)
    pdf.write_lines(text.text_title, BODY_PT, bold=True, align="L")
    for how, command in text.text_lines:
        pdf.write_lines(how, BODY_PT, align="L")
        pdf.write_lines(command, BODY_PT, bold=True, align="L", by_char=True)
    pdf.write_lines(text.agenda[0], BODY_PT, bold=True, align="L")
    pdf.write_lines(text.agenda[1].removeprefix("https://"), BODY_PT, align="L", by_char=True)
    return pdf.get_y() <= pdf.h - 8


def _card_page(pdf: _Document, text: PosterText, link: str, size: float) -> bool:
    pdf.add_page(format=(105, 148))  # A6
    pdf.set_margins(6, 6, 6)
    pdf.set_y(6)
    pdf.write_lines(text.card_title, 22, bold=True)
    pdf.write_lines(text.organizer, CARD_PT)
    top = pdf.get_y() + 1
    pdf.qr(link, (pdf.w - size) / 2, top, size)
    pdf.set_y(top + size + 1)
    pdf.write_lines(text.card_scan, CARD_PT, bold=True)
    pdf.write_lines(_link_lines(link), CARD_PT, by_char=True)
    return pdf.get_y() <= pdf.h - 4


# ---- /affiche ----------------------------------------------------------------------------------------

async def _maker(ctx: Context) -> tuple[list[str] | None, organizers.Organizer | None] | None:
    """Where this person may make posters (None: everywhere, for admins) and their organizer, if
    approved; None after saying who may use /affiche."""
    organizer = await organizers.of_person(ctx.db, ctx.person.id) if ctx.person else None
    if organizer is not None and not organizer.approved:
        organizer = None
    scope = await access.scope(ctx)
    allowed = None if scope is None else sorted({*scope, *(organizer.places if organizer else ())})
    if allowed is not None and not allowed:
        await ctx.reply(ctx.t("poster-who-can"))
        return None
    return allowed, organizer


async def _place(ctx: Context, allowed: list[str] | None) -> Place | None:
    """The neighbourhood typed after the command, or the only one this person has; None after an answer."""
    places = ctx.core.content.places
    typed = ctx.body.args.strip() if hasattr(ctx.body, "args") else ""
    first = places.get(allowed[0]) if allowed else None
    example = first.name if first else next(iter(places.examples(1)), next((p.name for p in places), ""))
    if not typed:
        if allowed is not None and len(allowed) == 1 and places.get(allowed[0]):
            return places.get(allowed[0])
        await ctx.reply(ctx.t("poster-which-place", example=example))
        return None
    place = access.find_place(ctx, typed[:100])
    if place is None:
        await ctx.reply(ctx.t("poster-place-unknown", typed=typed[:60], example=example))
        return None
    if allowed is not None and place.id not in allowed:
        await ctx.reply(ctx.t("poster-place-not-yours",
                              places=", ".join(access.place_name(ctx, p) for p in allowed)))
        return None
    return place


async def poster_command(ctx: Context) -> None:
    """/affiche [neighbourhood]: the poster's record now (its token, its count), the PDF after the commit."""
    maker = await _maker(ctx)
    if maker is None:
        return
    allowed, organizer = maker
    place = await _place(ctx, allowed)
    if place is None:
        return
    if join_links(ctx.core, place.id) is None:
        await ctx.reply(ctx.t("poster-no-link"))
        return
    named = organizer if organizer is not None and place.id in organizer.places else None
    poster = await posters.obtain(ctx.db, place.id, ctx.person.id, named.id if named else None,
                                  named.name if named else "", ctx.now)
    await ctx.reply(ctx.t.plural("poster-ready", poster.joins, place=place.name))
    await ctx.core.queue_work(ctx.db, ctx.address.platform, ctx.address.chat_id, WORK, {
        "platform": ctx.address.platform, "chat_id": ctx.address.chat_id, "lang": ctx.t.lang,
        "place": place.id, "token": poster.token, "label": poster.label,
    }, ctx.now)


def printed_link(core, links: JoinLinks, token: str) -> str:
    """What the QR code holds and the poster prints: with ``[web] public_url``, a short address of our
    own (``/j/<token>``, which sends on to the bot): fewer characters to type, and a smaller QR code
    whose squares are larger, so older phones read it from further away. Otherwise the bot's own link."""
    public = core.config.web.public_url.rstrip("/")
    return f"{public}/j/{token}" if public and token else links.main


def build(core, place: Place, token: str, label: str) -> bytes:
    links = join_links(core, place.id, token)
    if links is None:
        raise ValueError("no Telegram username nor Matrix account to link to")
    return render(texts(core, place, links, label), printed_link(core, links, token))


async def short_link(core, request: web.Request) -> web.StreamResponse:
    """GET /j/<token>: a poster's short address, sent on to the bot with the poster's neighbourhood."""
    token = request.match_info["token"]
    poster = await posters.by_token(core.db, token) if posters.TOKEN.match(token) else None
    links = join_links(core, poster.place_id, poster.token) if poster else None
    if links is None:
        raise web.HTTPNotFound(text="unknown poster")
    raise web.HTTPFound(links.main)


async def draw(core, order: dict):
    """Deferred work: the PDF is drawn in a thread, outside any transaction; the step returned queues it."""
    place = core.content.places.get(order["place"])
    if place is None:
        return None
    pdf = await asyncio.to_thread(build, core, place, order["token"], order["label"])
    t = core.translator(order["lang"])

    async def queue(db: Database) -> None:
        message = Outgoing(order["platform"], order["chat_id"], t("poster-caption", place=place.name),
                           attachment=Attachment(f"affiche-{agenda_page.slug(place)}.pdf", "application/pdf", pdf))
        await core.queue_file(db, message, core.clock.now())

    return queue


def _command_line_place(places, place_text: str) -> Place | None:
    return places.get(place_text) or _only(places.match(place_text[:100]))


def check_command_line(config, content, place_text: str) -> None:
    """Raises ``ValueError`` with a sentence to print when the neighbourhood is unknown or the bot has no
    address to link to (checked before any database is opened)."""
    if _command_line_place(content.places, place_text) is None:
        examples = ", ".join(content.places.examples(3))
        raise ValueError(f"unknown neighbourhood {place_text!r}; for example: {examples}")
    if not config.telegram.username and not config.matrix.user_id:
        raise ValueError("the poster links to the bot: set [telegram] username or [matrix] user_id in the config")


async def for_command_line(core, place_text: str, organizer: str, now: datetime) -> tuple[Place, bytes, int]:
    """``voisinage poster``: the same poster for a town hall, from a shell (after ``check_command_line``)."""
    check_command_line(core.config, core.content, place_text)
    place = _command_line_place(core.content.places, place_text)
    assert place is not None
    async with core.db.transaction():
        poster = await posters.obtain(core.db, place.id, None, None, organizer.strip()[:80], now)
    return place, await asyncio.to_thread(build, core, place, poster.token, poster.label), poster.joins


def _only(match) -> Place | None:
    return match.places[0] if match.outcome == "found" else None


def install(core) -> None:
    core.router.command(Command("poster", poster_command, aliases=("affiche", "affiches", "posters"),
                                help_key="help-poster", french_name="affiche", anonymous=True))
    core.hooks.moderator_help.append(ModeratorCommand("poster", "affiche", "modhelp-poster"))
    core.hooks.deferred[WORK] = draw
    core.hooks.web_route("GET", "/j/{token}", short_link)
    core.hooks.person_data(posters.export, posters.erase)
