"""Hypothesis through the dispatcher (``core.receive`` + ``core.settle``), for every registered command and
random button payloads: never a failed event, always an answer in the user's language, and no change
of state when a resident or a stranger tries a privileged command with any arguments."""

from __future__ import annotations

import asyncio
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.chat import ChoiceIn, CommandIn
from tests.core.moderation_helpers import dump, neighbours, setup_roles, with_admin

NASTY = st.sampled_from([
    "", " ", "#1", "#999999999", "1 2", "#1 #2", "'; DROP TABLE people; --", "1 OR 1=1", "<b>x</b><script>",
    "{name} {0} %s", "\u202e\u0000\ufeff", "belleville", "Robert'); --", "x" * 5000, "🚩" * 300,
    "[a](javascript:alert(1))", "\\", "#-1", "0", "#0 #0",
])
ARGS = st.one_of(NASTY, st.text(max_size=300), st.builds(lambda a, b: f"{a} {b}", NASTY, st.text(max_size=40)))
PAYLOADS = st.one_of(
    st.builds(lambda s: "mod:" + s, st.text(max_size=40)),
    st.sampled_from(["mod:r:1:b", "mod:r:999:w", "mod:r:x:y", "mod:lq:1:ok", "mod:lq:9:no", "mod:", "mod:r",
                     "forget:yes", "leave:yes", "go:ban", "go:report", "go:stats", "contact:yes:1"]),
    st.text(max_size=80),
)


def templates(catalogues, lang: str) -> list[re.Pattern[str]]:
    """Every sentence of a language as a regex (values as wildcards), for "answered in that language"."""
    cat = catalogues._by_lang[lang]
    forms = [*cat.singular.values(), *(f for plural in cat.plural.values() for f in plural)]
    found = []
    for form in forms:
        parts = re.split(r"(\{\w+\})", form)
        if len("".join(parts[::2]).strip()) < 3:
            continue  # (almost) nothing but values: would match anything
        found.append(re.compile("".join(".*" if i % 2 else re.escape(p) for i, p in enumerate(parts)), re.S))
    return found


def in_language(text: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.match(text) for p in patterns)


def run_fuzz(tmp_path, config, content, body_strategy, users, check_state) -> None:
    loop = asyncio.new_event_loop()
    try:
        hood = loop.run_until_complete(neighbours(tmp_path, with_admin(config), content))
        loop.run_until_complete(setup_roles(hood))
        loop.run_until_complete(hood.join("eli", "belleville", lang="en"))
        loop.run_until_complete(hood.say("stranger", "/help", lang="en"))
        english, french = templates(content.catalogues, "en"), templates(content.catalogues, "fr")

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(user=st.sampled_from(users), body=body_strategy(hood))
        def example(user: str, body) -> None:
            patterns = english if user in ("eli", "stranger") else french
            loop.run_until_complete(one(hood, user, body, patterns, check_state))

        example()
    finally:
        loop.run_until_complete(hood.core.db.close())
        loop.close()


async def one(hood, user, body, patterns, check_state) -> None:
    db = hood.core.db
    before = await dump(db)
    # the app's language of each person (a person re-created after a fuzzed "forget:yes" takes it again)
    out = await hood.send(user, body, lang="en" if user in ("eli", "stranger") else "fr")
    assert await db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'failed'") == 0, body
    assert out, (user, body)
    for message in out:
        assert in_language(message.text, patterns), (user, body, message.text[:200])
    if check_state(user, body):
        assert await dump(db) == before, (user, body)


def test_privileged_commands_with_any_arguments_change_nothing_for_residents(tmp_path, config, content) -> None:
    def bodies(hood):
        privileged = sorted({entry.name for entry in hood.core.hooks.moderator_help} | {"modhelp"})
        assert len(privileged) > 10  # every moderation command, as installed on this core
        return st.builds(CommandIn, st.sampled_from(privileged), ARGS)

    run_fuzz(tmp_path, config, content, bodies, ["eli", "stranger"], lambda user, body: True)


def test_every_command_and_any_button_never_fails_and_answers_in_the_users_language(tmp_path, config, content) -> None:
    def bodies(hood):
        names = sorted(set(hood.core.router.commands))
        return st.one_of(st.builds(CommandIn, st.sampled_from(names), ARGS), st.builds(ChoiceIn, PAYLOADS))

    # eli is an English-speaking resident, the stranger never started; mona, otto and the admin are French
    # speakers with roles. State may change (a resident may /leave, a moderator may /announce): what is
    # checked is that nothing fails and the answer is in the person's language.
    run_fuzz(tmp_path, config, content, bodies, ["eli", "stranger", "mona", "otto", "admin"],
             lambda user, body: False)
