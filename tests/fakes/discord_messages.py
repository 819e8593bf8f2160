"""How the fake Discord applies a message body: content, embeds, components, flags and attachments.

Invariants: a body is validated completely before anything changes (a rejected edit leaves the message as it
was); attachments follow API v10 — when ``attachments`` is present it is the complete final list (kept ones by
snowflake, new ones by upload index), otherwise uploads are added; an edit clears the deferred LOADING flag;
only SUPPRESS_EMBEDS can change on edit, as on Discord.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.discord_http import EMPTY_MESSAGE, MAX_FILES, DiscordError, Upload, form_error, to_int
from tests.fakes.discord_models import FakeFile, FakeMessage, MessageFlag, iso_now, snowflake

if TYPE_CHECKING:
    from tests.fakes.discord_interactions import FakeInteraction
    from tests.fakes.discord_server import FakeDiscord

MAX_CONTENT = 2000
_CREATE_FLAGS = MessageFlag.EPHEMERAL | MessageFlag.SUPPRESS_EMBEDS | MessageFlag.IS_COMPONENTS_V2


def apply_body(
    fake: FakeDiscord, message: FakeMessage, body: dict[str, Any], uploads: list[Upload], *, creating: bool
) -> None:
    """Validate a message body against ``message``, then apply it."""
    content = body.get("content", message.content)
    if content is not None and len(str(content)) > MAX_CONTENT:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    embeds = list(body.get("embeds") or []) if "embeds" in body else message.embeds
    if len(embeds) > 10:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    flags = int(body.get("flags") or 0)
    components = list(body.get("components") or []) if "components" in body else message.components
    if "components" in body:
        check_components(components, v2=bool((flags | message.flags) & MessageFlag.IS_COMPONENTS_V2))
    files = _final_files(message, body, uploads, creating=creating)
    if not ((creating and message.loading) or content or embeds or files or components):
        raise DiscordError(*EMPTY_MESSAGE)
    message.set_content(content)
    message.embeds, message.components = embeds, components
    message.files = [
        f if isinstance(f, FakeFile) else fake._store_file(message.channel, f.filename, f.data) for f in files
    ]
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]
    if creating:
        message.flags |= flags & _CREATE_FLAGS
    elif "flags" in body:
        suppress = flags & MessageFlag.SUPPRESS_EMBEDS
        message.flags = (message.flags & ~MessageFlag.SUPPRESS_EMBEDS) | suppress


async def edit(fake: FakeDiscord, message: FakeMessage, body: dict[str, Any], uploads: list[Upload]) -> None:
    """Apply an edit, keep the previous state in ``message.history``, and announce MESSAGE_UPDATE."""
    before = message.snapshot()
    apply_body(fake, message, body, uploads, creating=False)
    message.history.append(before)
    message.flags &= ~MessageFlag.LOADING
    message.edited_timestamp = iso_now()
    await fake._publish(message, created=False)


def _final_files(
    message: FakeMessage, body: dict[str, Any], uploads: list[Upload], *, creating: bool
) -> list[FakeFile | Upload]:
    if body.get("attachments") is None:
        return [*([] if creating else message.files), *uploads]
    existing = {f.id: f for f in message.files}
    by_index = {u.index: u for u in uploads}
    files: list[FakeFile | Upload] = []
    for item in body["attachments"]:
        wanted = to_int(item.get("id"))
        if wanted in existing:
            files.append(existing[wanted])
        elif wanted in by_index:
            upload = by_index[wanted]
            files.append(
                Upload(
                    upload.index, item.get("filename") or upload.filename, upload.content_type, upload.data
                )
            )
        else:
            raise form_error("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment id {wanted}")
    if len(files) > MAX_FILES:
        raise form_error("attachments", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
    return files


def check_components(components: list[dict[str, Any]], *, v2: bool) -> None:
    """The layout rules Discord enforces on message components (v1: up to 5 action rows of up to 5 items)."""
    if not v2 and len(components) > 5:
        raise form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for index, row in enumerate(components):
        where = f"components.{index}"
        if not v2 and row.get("type") != 1:
            raise form_error(
                where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level components must be action rows"
            )
        children = row.get("components", [])
        if row.get("type") == 1 and not 1 <= len(children) <= 5:
            raise form_error(
                f"{where}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        for child in children:
            custom_id = child.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= 100:
                raise form_error(where, "BASE_TYPE_BAD_LENGTH", "custom_id must be 1 to 100 characters")
            link_or_premium = child.get("style") in (5, 6)
            if child.get("type") == 2 and not link_or_premium and not custom_id:
                raise form_error(where, "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required")


def interaction_message(
    fake: FakeDiscord,
    interaction: FakeInteraction,
    data: dict[str, Any],
    *,
    loading: bool,
    followup: bool = False,
) -> FakeMessage:
    """A new message sent through an interaction (its response or a followup), not yet stored."""
    flags = int(data.get("flags") or 0) & MessageFlag.EPHEMERAL
    if loading:
        flags |= MessageFlag.LOADING
    kind = 0
    if interaction.type == 2 and not followup:
        kind = 20 if interaction.data.get("type", 1) == 1 else 23  # CHAT_INPUT_COMMAND / CONTEXT_MENU_COMMAND
    metadata: dict[str, Any] = {
        "id": str(interaction.id),
        "type": interaction.type,
        "user": interaction.user.payload(),
        "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
    }
    if interaction.source_message is not None and interaction.type == 3:
        metadata["interacted_message_id"] = str(interaction.source_message.id)
    if followup and interaction.original is not None:
        metadata["original_response_message_id"] = str(interaction.original.id)
    return FakeMessage(
        snowflake(),
        interaction.channel,
        fake.bot_user,
        flags=flags,
        type=kind,
        webhook_id=fake.application_id,
        application_id=fake.application_id,
        interaction_metadata=metadata,
    )
