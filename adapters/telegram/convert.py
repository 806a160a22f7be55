"""Telegram ``Update`` → the core's ``Incoming`` (or what the adapter applies itself). Pure.

What becomes what:
- a private text → ``TextIn``; ``/name args`` (``/name@ourbot`` in groups) → ``CommandIn``; a location
  → ``LocationIn``; a button → ``ChoiceIn``;
- a group text (or a caption) → ``TextIn`` addressed to the group (neighbours talking, mirrored);
- ``chat_member`` updates → ``JoinedIn`` (with the invite link used) / ``LeftIn``. The service messages
  ``new_chat_members``/``left_chat_member`` say the same thing again and are ignored, so a join counts once;
- a group migrated to a supergroup (``migrate_to_chat_id``) → a ``Migration``;
- reactions and edits count as activity only (``active_user``): they say someone is there, but an
  edit is not mirrored a second time;
- the user blocking (or unblocking) the bot → ``blocked``.
Anything else converts to nothing; its update id still moves the offset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from telegram import ChatMember, ChatMemberUpdated, Message, Update

from bot.core.chat import (
    Address,
    Body,
    ChoiceIn,
    CommandIn,
    FileIn,
    Incoming,
    JoinedIn,
    LeftIn,
    LocationIn,
    Sender,
    TextIn,
)

PLATFORM = "telegram"
_IN = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}


@dataclass(frozen=True)
class Migration:
    old_chat_id: str
    new_chat_id: str


@dataclass(frozen=True)
class Converted:
    """One update's meaning. At most one field is usually set; all None means: nothing to do."""

    incoming: Incoming | None = None
    migration: Migration | None = None
    active_user: str | None = None  # a reaction or an edit: activity, nothing to answer
    blocked: tuple[str, bool] | None = None  # (private chat id, blocked?) from my_chat_member
    callback_query_id: str | None = None  # to stop the button's spinner once stored


def convert(update: Update, bot_username: str = "") -> Converted:
    """What ``update`` means to the core; ``bot_username`` tells our commands from other bots' in groups."""
    if update.callback_query is not None:
        return _callback(update)
    if update.message is not None:
        return _message(update, update.message, bot_username)
    if update.edited_message is not None and update.edited_message.from_user:
        return Converted(active_user=str(update.edited_message.from_user.id))
    if update.chat_member is not None:
        return _member(update, update.chat_member)
    if update.my_chat_member is not None:
        return _my_member(update.my_chat_member)
    if update.message_reaction is not None and update.message_reaction.user:
        return Converted(active_user=str(update.message_reaction.user.id))
    return Converted()


def _sender(user) -> Sender:
    language = (user.language_code or "")[:2].lower() or None
    return Sender(first_name=(user.first_name or "")[:64], language=language)


def _incoming(update: Update, chat, user, body: Body) -> Incoming:
    address = Address(PLATFORM, str(chat.id), str(user.id), private=chat.type == "private")
    return Incoming(address, body, _sender(user), external_id=str(update.update_id))


def _message(update: Update, message: Message, bot_username: str) -> Converted:
    if message.migrate_to_chat_id:
        return Converted(migration=Migration(str(message.chat.id), str(message.migrate_to_chat_id)))
    user = message.from_user
    if user is None or user.is_bot or message.new_chat_members or message.left_chat_member:
        return Converted()
    private = message.chat.type == "private"
    body = _body(message, bot_username, private)
    if body is None:
        return Converted(active_user=str(user.id))
    return Converted(incoming=_incoming(update, message.chat, user, body))


def _body(message: Message, bot_username: str, private: bool) -> Body | None:
    if message.location is not None:
        return LocationIn(message.location.latitude, message.location.longitude) if private else None
    if message.document is not None and private:
        document = message.document
        return FileIn(document.file_id, document.file_name or "", document.mime_type or "", document.file_size or 0)
    text = message.text or message.caption
    if text is None:
        return TextIn("") if private else None  # a sticker in private: the current question is asked again
    if message.text and text.startswith("/"):
        command = _command(text, bot_username, private)
        replied = message.reply_to_message
        if isinstance(command, CommandIn) and replied is not None and replied.from_user is not None:
            # "/report" sent as a reply: the message and author it is about (what a report keeps).
            command = replace(
                command,
                reply_to_user=str(replied.from_user.id),
                reply_to_text=(replied.text or replied.caption or "")[:1000],
            )
        return command
    return TextIn(text)


def _command(text: str, bot_username: str, private: bool) -> Body | None:
    head, _, args = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None  # "/help@otherbot" in a group is not for us
    if not name:
        return TextIn(text)
    return CommandIn(name.lower(), args.strip())


def _callback(update: Update) -> Converted:
    query = update.callback_query
    assert query is not None
    chat = query.message.chat if query.message is not None else None
    if chat is None or not query.data:
        return Converted(callback_query_id=query.id)
    incoming = _incoming(update, chat, query.from_user, ChoiceIn(query.data))
    return Converted(incoming=incoming, callback_query_id=query.id)


def _is_in(member: ChatMember) -> bool:
    restricted_in = member.status == ChatMember.RESTRICTED and bool(getattr(member, "is_member", False))
    return member.status in _IN or restricted_in


def _member(update: Update, change: ChatMemberUpdated) -> Converted:
    user = change.new_chat_member.user
    if user.is_bot:
        return Converted()
    was_in, is_in = _is_in(change.old_chat_member), _is_in(change.new_chat_member)
    if not was_in and is_in:
        link = change.invite_link.invite_link if change.invite_link else ""
        return Converted(incoming=_incoming(update, change.chat, user, JoinedIn(invite=link)))
    if was_in and not is_in:
        removed = change.new_chat_member.status == ChatMember.BANNED or change.from_user.id != user.id
        return Converted(incoming=_incoming(update, change.chat, user, LeftIn(removed_by_admin=removed)))
    return Converted()


def _my_member(change: ChatMemberUpdated) -> Converted:
    """In a private chat, the bot's own membership changes when the user blocks or restarts it."""
    if change.chat.type != "private":
        return Converted()
    blocked = change.new_chat_member.status == ChatMember.BANNED
    return Converted(blocked=(str(change.chat.id), blocked))
