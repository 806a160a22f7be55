"""Onboarding: from a first message to a place in a circle, in 4 answers and at most 5 bot messages.

One opening message (hello, what is stored and an explicit yes, and the other language one tap away:
the language is first guessed from the platform's locale, French by default) → neighbourhood (typed
freely) → interests → check-ins (and who is told) → welcomed and invited into a circle. Every answer
gets at most one message. What help one could give or would welcome is not asked before the circle:
it makes more sense once people know their circle, and every message before the invitation costs
time on a rate-limited account (Synapse: one message every 5 s), so the welcome points to /profile.

Each answer is written to the person's record as soon as it is given, so ``/profile`` reuses these
same steps to change one answer (``mode = "profile"``), and a restart resumes at the question asked.
"""

from __future__ import annotations

from bot.checkins import QuietHours, care_time
from bot.circles import leave_circle, place_in_circle
from bot.core import answers, start_codes
from bot.core.chat import Body, CommandIn, LocationIn
from bot.core.clock import to_iso
from bot.core.flows import MISSED, StepFlow, Ticks, picked, picked_all, picked_place, place_buttons, typed
from bot.core.i18n import LANGUAGES, Localized
from bot.core.interests import TopicList, fold
from bot.core.places import Place
from bot.core.router import Command, Context
from bot.storage import circles as circle_store
from bot.storage import conversations, people, posters
from bot.storage.conversations import Conversation

FLOW = "onboarding"
PLACE_CHOICES = 6  # candidates offered for an unclear place ("neuilly": the villages and Neuilly-sur-Seine)
#: The step after each one; None: the circle. The language step (now one tap in the opening message) and
#: the help steps are still steps, for /profile and for a conversation started before this order.
FOLLOWING = {"language": "consent", "consent": "place", "place": "interests", "interests": "checkins",
             "offers": "checkins", "wants": "checkins", "checkins": None}
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}  # each in its own language, as people look for it
_LANGUAGE_WORDS = {"fr": ("francais", "french", "fr"), "en": ("english", "anglais", "en")}
#: At the neighbourhood question, words that ask for help rather than name a place: answered with
#: what to type instead of "je ne trouve pas « je ne sais pas »".
_PLACE_HELP_WORDS = frozenset({
    "je ne sais pas", "je sais pas", "sais pas", "chais pas", "ne sais pas", "aucune idee", "je ne suis pas sur",
    "je ne suis pas sure", "aide", "a l aide", "aidez moi", "help", "comment", "comment faire", "quoi",
    "c est quoi", "i don t know", "i dont know", "don t know", "dont know", "dunno", "no idea", "not sure",
    "what", "how",
})

class Onboarding(StepFlow):
    name = FLOW
    greeting_steps = ("language", "consent")

    # ---- language (/profile; in onboarding, a button of the opening message) -------------------

    async def ask_language(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(
            ctx.t("onboarding-language"),
            [self.button("language", "fr", "Français"), self.button("language", "en", "English")],
        )

    async def on_language(self, ctx: Context, conv: Conversation, body: Body) -> None:
        lang = picked(body) or _language_from_text(typed(body) or "")
        if lang not in LANGUAGES:
            await self.again(ctx, conv, ctx.t("onboarding-language-again"))
            return
        await people.update(ctx.db, ctx.person.id, language=lang)
        ctx.t = ctx.core.translator(lang)
        await self.next(ctx, conv)

    # ---- the opening message: hello, consent, and the other language --------------------------

    async def ask_consent(self, ctx: Context, conv: Conversation) -> None:
        other = "en" if ctx.t.lang == "fr" else "fr"
        await ctx.reply(
            ctx.t("onboarding-hello") + Localized("\n\n")
            + ctx.t("onboarding-consent", bot=ctx.core.config.deployment.name),
            [
                self.button("consent", "yes", ctx.t("button-consent-yes")),
                self.button("consent", "no", ctx.t("button-consent-no")),
                self.button("consent", f"lang.{other}", LANGUAGE_NAMES[other]),
            ],
        )

    async def on_consent(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        lang = answer[5:] if answer and answer.startswith("lang.") else _language_from_text(typed(body) or "")
        if lang is not None:  # "English", "français", or a greeting ("hello" answers in English)
            await self._switch_language(ctx, conv, lang)
        elif answer == "yes":
            await people.update(ctx.db, ctx.person.id, consent_at=to_iso(ctx.now))
            await self.next(ctx, conv)
        elif answer == "no":
            await self.end(ctx)
            await people.delete(ctx.db, ctx.person.id)
            await ctx.reply(ctx.t("onboarding-declined"))
        else:
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))

    async def _switch_language(self, ctx: Context, conv: Conversation, lang: str) -> None:
        """The opening message again, in the language chosen (one answer, one message)."""
        if lang not in LANGUAGES:
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        if lang == ctx.t.lang:
            ctx.note = ctx.t("greeting-back")
        await people.update(ctx.db, ctx.person.id, language=lang)
        ctx.t = ctx.core.translator(lang)
        await self.goto(ctx, conv, "consent")

    # ---- neighbourhood ----------------------------------------------------------------------

    async def ask_place(self, ctx: Context, conv: Conversation) -> None:
        place = _place_from_code(ctx, conv.data.get("start_code", "") or "")
        if place is not None and conv.data.get("mode") == "join":  # a deep link carried the neighbourhood
            await self.settle_place(ctx, conv, place)
            return
        await ctx.reply(ctx.t("onboarding-place", examples=_examples(ctx)))

    async def on_place(self, ctx: Context, conv: Conversation, body: Body) -> None:
        places = ctx.core.content.places
        if isinstance(body, LocationIn):
            found = places.nearest(body.latitude, body.longitude)
            if found is None:
                await ctx.reply(ctx.t("onboarding-place-nothing-near"))
                return
            await self.settle_place(ctx, conv, found)
            return
        text = typed(body)
        if text is None:
            await ctx.reply(ctx.t("onboarding-place-type-it"))
            return
        limit = 100
        if len(text) > limit:
            await ctx.reply(ctx.t("answer-too-long", limit=limit))
            return
        match = places.match(text, limit=PLACE_CHOICES)
        if match.outcome == "found":
            await self.settle_place(ctx, conv, match.places[0])
        elif match.outcome in ("choose", "confirm"):
            conv.data["candidates"] = [p.id for p in match.places]
            await self.goto(ctx, conv, "place_pick" if match.outcome == "choose" else "place_confirm")
        elif _asks_for_help(text):
            await self.again(ctx, conv, ctx.t("onboarding-place-help"))
        elif answers.polarity(text) or answers.is_greeting(text) or text.strip(" .").isdigit():
            await self.again(ctx, conv, ctx.t("onboarding-place-expected"))  # "oui", "1": not a place
        else:
            await self.again(ctx, conv, ctx.t("onboarding-place-not-found", typed=text))

    async def ask_place_confirm(self, ctx: Context, conv: Conversation) -> None:
        """One place, found with more typos than its name allows ("alice" → Salice): asked, not assumed."""
        place = ctx.core.content.places.get((conv.data.get("candidates") or [""])[0])
        if place is None:
            await self.goto(ctx, conv, "place")
            return
        await ctx.reply(ctx.t("onboarding-place-did-you-mean", place=place.spoken),
                        [self.button("place_confirm", "yes", ctx.t("button-place-yes")),
                         self.button("place_confirm", "no", ctx.t("button-place-no"))])

    async def on_place_confirm(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        place = ctx.core.content.places.get((conv.data.get("candidates") or [""])[0])
        if answer == "yes" and place is not None:
            await self.settle_place(ctx, conv, place)
        elif answer == "no":
            conv.data.pop("candidates", None)
            await self.goto(ctx, conv, "place")
        elif typed(body):  # another name typed instead: try that one
            conv.step = "place"
            await self.on_place(ctx, conv, body)
        else:
            await self.ask_place_confirm(ctx, conv)

    async def ask_place_pick(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("onboarding-place-pick"), place_buttons(self, ctx, conv))

    async def on_place_pick(self, ctx: Context, conv: Conversation, body: Body) -> None:
        place = picked_place(ctx, conv, body)
        if place is not None:
            await self.settle_place(ctx, conv, place)
            return
        value = picked(body)
        if value == "none":
            await self.goto(ctx, conv, "place")
            return
        if typed(body):  # they typed another name instead of picking: try that
            conv.step = "place"
            await self.on_place(ctx, conv, body)
            return
        await self.ask_place_pick(ctx, conv)

    async def settle_place(self, ctx: Context, conv: Conversation, place: Place) -> None:
        previous = ctx.person.place_id
        await people.update(ctx.db, ctx.person.id, place_id=place.id)
        conv.data.pop("candidates", None)
        conv.data["place_echo"] = place.label
        if conv.data.get("mode") == "profile" and previous != place.id and not await self.move_to_new_place(ctx):
            return  # a gate of the new neighbourhood (its local question) now leads the conversation
        await self.next(ctx, conv, "place")

    async def move_to_new_place(self, ctx: Context) -> bool:
        """A new neighbourhood means a new circle: leave the old one, join one there — through the same
        gates as a newcomer (a ban, the neighbourhood's local question), or /profile would be a way round
        them. Someone still waiting for their old neighbourhood's circle stops waiting there and is placed
        in the new one (the wait would otherwise open a circle where they no longer live). False when a
        gate holds the person back (it has answered them itself)."""
        in_circle = await circle_store.circle_of(ctx.db, ctx.person.id) is not None
        if not in_circle and not await circle_store.is_waiting(ctx.db, ctx.person.id):
            if not ctx.person.onboarded:
                return True  # still joining: the circle comes at the end of onboarding
            await _join_again(ctx)  # they had left their circle: the new neighbourhood's circle
            return True
        person = await people.get(ctx.db, ctx.person.id)
        assert person is not None
        await leave_circle(ctx.core, ctx.db, person, ctx.now)
        ctx.person = person
        if not await ctx.core.hooks.gates_pass(ctx, "place"):
            return False
        await place_in_circle(ctx.core, ctx.db, person, ctx.now)
        return True

    # ---- interests and help: pick several from a list ---------------------------------------

    async def ask_interests(self, ctx: Context, conv: Conversation) -> None:
        echo = conv.data.pop("place_echo", None)
        intro = ctx.t("onboarding-place-ok", place=echo) + Localized("\n") if echo else Localized("")
        await self._ask_many(ctx, conv, "interests", intro + ctx.t("onboarding-interests"))

    async def on_interests(self, ctx: Context, conv: Conversation, body: Body) -> None:
        await self._on_many(ctx, conv, "interests", body)

    async def ask_offers(self, ctx: Context, conv: Conversation) -> None:
        await self._ask_many(ctx, conv, "offers", ctx.t("onboarding-offers"))

    async def on_offers(self, ctx: Context, conv: Conversation, body: Body) -> None:
        await self._on_many(ctx, conv, "offers", body)

    async def ask_wants(self, ctx: Context, conv: Conversation) -> None:
        await self._ask_many(ctx, conv, "wants", ctx.t("onboarding-wants"))

    async def on_wants(self, ctx: Context, conv: Conversation, body: Body) -> None:
        await self._on_many(ctx, conv, "wants", body)

    def _list(self, ctx: Context, field: str) -> TopicList:
        return ctx.core.content.interests if field == "interests" else ctx.core.content.help_kinds

    async def _ask_many(self, ctx: Context, conv: Conversation, field: str, text: Localized) -> None:
        chosen = set(conv.data.setdefault(field, list(getattr(ctx.person, field))))
        buttons = [
            self.button(field, f"t.{topic.key}", ("✓ " if topic.key in chosen else "") + topic.label(ctx.t.lang))
            for topic in self._list(ctx, field).topics
        ]
        buttons.append(self.button(field, "done", ctx.t("button-continue")))
        await ctx.reply(text, buttons)

    async def _on_many(self, ctx: Context, conv: Conversation, field: str, body: Body) -> None:
        """One answer to a "pick several" question gets one short message: what was ticked (or taken
        off, or was already there) and how to go on — not the whole list again."""
        chosen: list[str] = conv.data.setdefault(field, list(getattr(ctx.person, field)))
        topics = self._list(ctx, field)
        values = picked_all(body)
        if "done" in values:
            await people.update(ctx.db, ctx.person.id, **{field: chosen})
            conv.data.pop(field, None)
            await self.next(ctx, conv, field)
            return
        change = Ticks(conv, ctx.now)
        if any(values):
            for value in values:
                key = value[2:] if value and value.startswith("t.") and topics.get(value[2:]) else None
                # A pressed button toggles; a typed number or word only ticks (typed twice, still ticked).
                change.toggle(chosen, key, undo=Ticks.undoes(body))
        elif (text := typed(body)) is not None:
            if len(text) > ctx.core.config.limits.max_answer:
                await ctx.reply(ctx.t("answer-too-long", limit=ctx.core.config.limits.max_answer))
                return
            found, unknown = topics.match_words(text)
            for key in found:
                change.toggle(chosen, key, undo=False)
            if not found:
                await self.again(ctx, conv, ctx.t("onboarding-words-unknown", words=", ".join(unknown)))
                return
            if unknown:
                ctx.note = ctx.t("onboarding-words-unknown", words=", ".join(unknown))
        conv.data.pop(MISSED, None)
        await self.save(ctx, conv)
        labels = {t.key: t.label(ctx.t.lang) for t in topics.topics}
        await ctx.reply(change.sentence(ctx, labels, chosen, len(topics.topics) + 1), keep_choices=True)

    # ---- check-ins --------------------------------------------------------------------------

    async def ask_checkins(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(
            ctx.t("onboarding-checkins", days=ctx.core.config.checkins.threshold_days),
            [
                self.button("checkins", "host", ctx.t("button-checkins-host")),
                self.button("checkins", "contact", ctx.t("button-checkins-contact")),
                self.button("checkins", "no", ctx.t("button-checkins-no")),
            ],
        )

    async def on_checkins(self, ctx: Context, conv: Conversation, body: Body) -> None:
        answer = picked(body)
        if answer not in ("host", "contact", "no"):
            await self.again(ctx, conv, ctx.t("answer-with-buttons"))
            return
        await people.update(ctx.db, ctx.person.id, checkins=int(answer != "no"))
        if answer == "contact":
            await self.goto(ctx, conv, "contact")
            return
        await people.update(ctx.db, ctx.person.id, contact_person_id=None, contact_confirmed_at=None)
        await self.next(ctx, conv, "checkins")

    async def ask_contact(self, ctx: Context, conv: Conversation) -> None:
        await ctx.reply(ctx.t("onboarding-contact"), [self.button("contact", "skip", ctx.t("button-skip"))])

    async def on_contact(self, ctx: Context, conv: Conversation, body: Body) -> None:
        if picked(body) == "skip":
            await self.next(ctx, conv, "checkins")
            return
        name = (typed(body) or "")[:64]
        contact = await _find_neighbour(ctx, name)
        if contact is None:
            await self.again(ctx, conv, ctx.t("onboarding-contact-unknown", name=name))
            return
        await people.update(ctx.db, ctx.person.id, contact_person_id=contact.id, contact_confirmed_at=None)
        asker = ctx.person.first_name or ctx.t("someone")
        settings = ctx.core.config.checkins  # a check-in message: it waits for the end of the quiet hours
        hours = QuietHours.parse(settings.quiet_start, settings.quiet_end)
        await ctx.tell(
            contact.id,
            lambda t: t("contact-request", name=asker),
            lambda t: [
                (t("button-contact-accept"), f"contact:yes:{ctx.person.id}"),
                (t("button-contact-decline"), f"contact:no:{ctx.person.id}"),
            ],
            not_before=care_time(ctx.now, hours, ctx.core.config.deployment.zone),
        )
        await ctx.reply(ctx.t("onboarding-contact-asked", name=contact.first_name))
        await self.next(ctx, conv, "checkins")

    # ---- moving on --------------------------------------------------------------------------

    async def next(self, ctx: Context, conv: Conversation, done: str | None = None) -> None:
        """The step after ``done`` (or after the current one); in profile mode, back to the profile."""
        done = done or conv.step
        if conv.data.get("mode") == "profile":
            await self.end(ctx)
            await ctx.core.router.commands["profile"].handler(ctx)
            return
        following = FOLLOWING.get(done)
        if following is None:
            await self.finish(ctx)
        else:
            await self.goto(ctx, conv, following)

    async def finish(self, ctx: Context) -> None:
        conv = await conversations.get(ctx.db, ctx.person.id)
        then = conv.data.get("then") if conv is not None and conv.flow == FLOW else None
        code = str(conv.data.get("start_code", "") or "") if conv and conv.data.get("mode") == "join" else ""
        await self.end(ctx)
        await people.update(ctx.db, ctx.person.id, onboarded_at=to_iso(ctx.now))
        person = await people.get(ctx.db, ctx.person.id)
        assert person is not None
        ctx.person = person
        if code:
            await _count_poster(ctx, code)
        if await circle_store.circle_of(ctx.db, person.id) is None and await ctx.core.hooks.gates_pass(ctx, "place"):
            await place_in_circle(ctx.core, ctx.db, person, ctx.now)
        command = ctx.core.router.find(then) if isinstance(then, str) else None
        if command is not None and await conversations.get(ctx.db, person.id) is None:
            await command.handler(ctx)  # what they asked for before joining (/organisateur), now


async def after_onboarding(ctx: Context, command: str) -> None:
    """A command that needs a member, typed by someone not onboarded yet: onboarding first (started or
    resumed at its question), then the command is carried out when it ends."""
    conv = await conversations.get(ctx.db, ctx.person.id)
    flow: Onboarding = ctx.core.router.flows[FLOW]  # type: ignore[assignment]
    if conv is None or conv.flow != FLOW:
        await ctx.core.router.commands["start"].handler(ctx)
        conv = await conversations.get(ctx.db, ctx.person.id)
        if conv is not None and conv.flow == FLOW:
            conv.data["then"] = command
            await flow.save(ctx, conv)
        return
    conv.data["then"] = command
    await flow.goto(ctx, conv, conv.step)


def _language_from_text(text: str) -> str | None:
    """ "français", "english", or a greeting: "bonjour" answers in French, "hello" in English."""
    word = fold(text)
    for lang, words in _LANGUAGE_WORDS.items():
        if word in words:
            return lang
    return answers.is_greeting(text)


def _asks_for_help(text: str) -> bool:
    """ "je ne sais pas", "aide ?", "comment ?", "I don't know": help wanted, not a place's name."""
    words = answers.plain(text)
    return not words or words in _PLACE_HELP_WORDS


def _place_from_code(ctx: Context, code: str) -> Place | None:
    """A start code "p-<place id>[--<poster>]" (``bot.core.start_codes``) names a place."""
    places = ctx.core.content.places
    place_id, _ = start_codes.read(code, places.get)
    return places.get(place_id) if place_id else None


async def _count_poster(ctx: Context, code: str) -> None:
    """A newcomer who came through a poster and joined its neighbourhood adds one to its count.
    Only the count: the code stays in the conversation, which ``finish`` has just deleted."""
    place_id, token = start_codes.read(code, ctx.core.content.places.get)
    if token and place_id == ctx.person.place_id:
        await posters.count_join(ctx.db, token, place_id)


def _examples(ctx: Context) -> str:
    return ", ".join(ctx.core.content.places.examples(3))


async def _find_neighbour(ctx: Context, name: str):
    """A contact is someone of the same neighbourhood, found by the first name they use here."""
    if not name.strip():
        return None
    rows = await ctx.db.fetchall(
        "SELECT id, first_name FROM people WHERE place_id = ? AND id != ? AND onboarded_at IS NOT NULL",
        (ctx.person.place_id, ctx.person.id),
    )
    wanted = fold(name)
    matches = [r["id"] for r in rows if fold(r["first_name"]) == wanted]
    if len(matches) != 1:
        return None
    return await people.get(ctx.db, matches[0])


async def start(ctx: Context) -> None:
    """/start (or any first message): onboarding, or a reminder of where they are for members."""
    assert ctx.person is not None
    if ctx.person.onboarded:
        if await _outside_any_circle(ctx):  # left their circle (/quitter): /start joins one again
            await _join_again(ctx)
            return
        await ctx.reply(ctx.t("start-already-member"))
        return
    conv = await ctx.conversation()
    if conv is not None and conv.flow == FLOW:
        return  # already on the way: the question waiting is asked again (``Core._back_to_question``)
    if not await ctx.core.hooks.gates_pass(ctx, "start"):
        return
    lang = _language_from_text(typed(ctx.body) or "")
    if lang in LANGUAGES and lang != ctx.t.lang:  # "hello" as a first message: the opening in English
        await people.update(ctx.db, ctx.person.id, language=lang)
        ctx.t = ctx.core.translator(lang)
    flow: Onboarding = ctx.core.router.flows[FLOW]  # type: ignore[assignment]
    code = ctx.body.args if isinstance(ctx.body, CommandIn) else ""
    await flow.begin(ctx, "consent", start_code=code[:64], mode="join")


async def _outside_any_circle(ctx: Context) -> bool:
    """A member with a neighbourhood, in no circle and waiting for none: they left (/quitter)."""
    if ctx.person.place_id is None or await circle_store.circle_of(ctx.db, ctx.person.id) is not None:
        return False
    return not await circle_store.is_waiting(ctx.db, ctx.person.id)


async def _join_again(ctx: Context) -> None:
    """Back into a circle of their neighbourhood, through the newcomer's gates (a ban, the local
    question): the welcome and the invitation (or the wait) are the answer."""
    person = await people.get(ctx.db, ctx.person.id)  # as stored: /profil may just have changed the place
    assert person is not None
    ctx.person = person
    if not await ctx.core.hooks.gates_pass(ctx, "place"):
        return
    await place_in_circle(ctx.core, ctx.db, person, ctx.now)


async def contact_answer(ctx: Context) -> None:
    """The chosen neighbour says yes (or no) to being told if the person does not answer a check-in."""
    _, answer, asker_id = ctx.payload.split(":", 2)
    asker = await people.get(ctx.db, int(asker_id)) if asker_id.isdigit() else None
    if asker is None or asker.contact_person_id != ctx.person.id:
        await ctx.reply(ctx.t("choice-expired"))
        return
    if answer == "yes":
        await people.update(ctx.db, asker.id, contact_confirmed_at=to_iso(ctx.now))
        await ctx.reply(ctx.t("contact-accepted", name=asker.first_name))
        await ctx.tell(asker.id, lambda t: t("contact-accepted-by", name=ctx.person.first_name))
    else:
        await people.update(ctx.db, asker.id, contact_person_id=None, contact_confirmed_at=None)
        await ctx.reply(ctx.t("contact-declined"))
        await ctx.tell(asker.id, lambda t: t("contact-declined-by", name=ctx.person.first_name))


async def go(ctx: Context) -> None:
    """A button that stands for a command (from "did you mean" or "finish joining first")."""
    name = ctx.payload.partition(":")[2]
    command = ctx.core.router.find(name)
    if command is None:
        await ctx.reply(ctx.t("choice-expired"))
    elif ctx.person.onboarded or not command.needs_member:
        await command.handler(ctx)
    else:  # e.g. a member's old button pressed after they were removed: say so rather than nothing
        await ctx.reply(ctx.t("command-needs-onboarding", command=name[:40]), [(ctx.t("button-start"), "go:start")])


def install(core) -> None:
    core.router.flow(Onboarding())
    core.router.many(FLOW, "interests", "offers", "wants")
    core.router.command(Command("start", start, aliases=("demarrer", "commencer"), needs_member=False))
    core.router.action("contact", contact_answer)
    core.router.action("go", go, before_onboarding=True)
