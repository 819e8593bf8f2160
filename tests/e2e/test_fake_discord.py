"""The real discord.py client against the fake Discord: the flows the Discord adapter relies on, end to end.

These tests pin down both the fake (it must speak the wire protocol discord.py expects) and the facts the
adapter is built on: which exception discord.py raises when an interaction token has expired, what a deferred
response looks like, how a modal with a file upload arrives, and that DynamicItem buttons survive a restart.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import zlib
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fakes.discord_sdk import discord, point_discord_py, running_client
from tests.fakes.discord_server import FakeDiscord, Perm

# discord_sdk imports discord.py with its one import-time DeprecationWarning silenced; take names from there
app_commands = discord.app_commands

RED, CYAN = (255, 0, 0), (0, 255, 255)


@pytest.fixture(autouse=True)
def _no_errors_logged_by_discord_py(caplog: pytest.LogCaptureFixture) -> Any:
    """discord.py logs (and swallows) exceptions in commands, views and modals: fail the test on them."""
    yield
    errors = [r for r in caplog.records if r.name.startswith("discord") and r.levelno >= logging.ERROR]
    assert not errors, "\n".join(r.getMessage() + (f"\n{r.exc_text}" if r.exc_text else "") for r in errors)


def png(color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> bytes:
    """A small solid-colour PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def inverted(data: bytes) -> bytes:
    """The photo edit our test bot performs (in a worker thread, as the house rules ask)."""
    with Image.open(io.BytesIO(data)) as image:
        result = Image.eval(image.convert("RGB"), lambda v: 255 - v)
    buffer = io.BytesIO()
    result.save(buffer, "PNG")
    return buffer.getvalue()


class RetryButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"editbot:retry:(?P<job>[0-9]+)"):
    """A button that survives restarts: its state lives in the custom id."""

    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Retry", custom_id=f"editbot:retry:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any, /
    ) -> RetryButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(f"retrying job {self.job}", ephemeral=True)


class EditModal(discord.ui.Modal, title="Edit this image"):
    """A modal with a text input and a file upload (discord.py 2.7 ``Label`` + ``FileUpload``)."""

    prompt: discord.ui.Label[Any] = discord.ui.Label(
        text="What should change?", component=discord.ui.TextInput(custom_id="prompt", max_length=1000)
    )
    mask: discord.ui.Label[Any] = discord.ui.Label(
        text="Mask (optional)",
        component=discord.ui.FileUpload(custom_id="mask", required=False, max_values=1),
    )

    def __init__(self, bot: TestBot, target: discord.Message) -> None:
        super().__init__(custom_id=f"editbot:modal:{target.id}")
        self.bot, self.target = bot, target

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        prompt: discord.ui.TextInput[Any] = self.prompt.component  # type: ignore[assignment]
        upload: discord.ui.FileUpload[Any] = self.mask.component  # type: ignore[assignment]
        masks = [await attachment.read() for attachment in upload.values]
        self.bot.seen["modal"] = (prompt.value, masks)
        await interaction.response.defer(thinking=True)
        source = await self.target.attachments[0].read()
        result = await asyncio.to_thread(inverted, source)
        await interaction.edit_original_response(
            content=f"edited: {prompt.value}", attachments=[discord.File(io.BytesIO(result), "edited.png")]
        )


class TestBot(discord.Client):
    """A stand-in for the real adapter: one bot with the commands these tests exercise."""

    __test__ = False

    def __init__(self, *, dev_guild: int | None = None) -> None:
        super().__init__(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self)
        self.dev_guild = dev_guild
        self.seen: dict[str, Any] = {}
        self.gate = asyncio.Event()
        self._add_commands()

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            seen = (message.guild is not None, message.content, len(message.attachments))
            self.seen.setdefault("messages", []).append(seen)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RetryButton)
        await self.tree.sync()
        if self.dev_guild is not None:
            await self.tree.sync(guild=discord.Object(self.dev_guild))

    def _add_commands(self) -> None:
        tree, seen = self.tree, self.seen

        @tree.command(description="Edit a photo")
        @app_commands.describe(image="The photo", prompt="What to change")
        async def edit(interaction: discord.Interaction[Any], image: discord.Attachment, prompt: str) -> None:
            await interaction.response.defer(thinking=True)
            seen["locale"] = interaction.locale
            seen["filesize_limit"] = interaction.filesize_limit
            source = await image.read()
            result = await asyncio.to_thread(inverted, source)
            view = discord.ui.View(timeout=None)
            view.add_item(RetryButton(42))
            await interaction.edit_original_response(
                content=f"{prompt} (from {image.filename}, {image.width}x{image.height})",
                attachments=[discord.File(io.BytesIO(result), "edited.png")],
                view=view,
            )

        @tree.command(description="Edit after a long wait")
        async def slow(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.defer(thinking=True)
            await self.gate.wait()
            try:
                await interaction.edit_original_response(content="done")
            except discord.HTTPException as error:
                seen["edit_error"] = error
                assert isinstance(interaction.channel, discord.abc.Messageable)
                await interaction.channel.send(f"{interaction.user.mention} here is your result (late)")

        @tree.command(description="Answer only after the gate opens")
        async def late(interaction: discord.Interaction[Any]) -> None:
            await self.gate.wait()
            try:
                await interaction.response.defer()
            except discord.HTTPException as error:
                seen["defer_error"] = error

        @tree.command(description="Send a file")
        async def upload(interaction: discord.Interaction[Any], size: int) -> None:
            try:
                await interaction.response.send_message(file=discord.File(io.BytesIO(b"x" * size), "big.bin"))
            except discord.HTTPException as error:
                seen["upload_error"] = error
                await interaction.response.send_message("too big", ephemeral=True)

        @tree.command(description="Reply by followups")
        async def chatty(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.defer()
            first = await interaction.followup.send("first", wait=True)
            red = discord.File(io.BytesIO(png(RED)), "r.png")
            second = await interaction.followup.send("second", file=red, wait=True)
            seen["followups"] = (first.id, second.id)

        @tree.command(description="Post to the channel")
        async def post(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.defer(ephemeral=True)
            assert isinstance(interaction.channel, discord.TextChannel)
            try:
                await interaction.channel.send(
                    "with a file", file=discord.File(io.BytesIO(png(RED)), "r.png")
                )
            except discord.HTTPException as error:
                seen["post_error"] = error
            await interaction.followup.send("ok")

        @tree.command(description="Send me a DM")
        async def dm_me(interaction: discord.Interaction[Any]) -> None:
            try:
                await interaction.user.send("here you go")
            except discord.Forbidden as error:
                seen["dm_error"] = error
            await interaction.response.send_message("done", ephemeral=True)

        @tree.context_menu(name="Edit image")
        async def edit_image(interaction: discord.Interaction[Any], message: discord.Message) -> None:
            await interaction.response.send_modal(EditModal(self, message))

        @tree.command(
            description="Server settings",
            guild=None if self.dev_guild is None else discord.Object(self.dev_guild),
        )
        @app_commands.default_permissions(manage_guild=True)
        async def settings(interaction: discord.Interaction[Any]) -> None:
            seen["settings_permissions"] = interaction.permissions
            await interaction.response.send_message("settings", ephemeral=True)


async def test_slash_command_with_attachment_defers_then_edits_original_with_file_and_button(
    fake_discord: FakeDiscord,
) -> None:
    photo = fake_discord.add_attachment(png(RED), "cat photo.png")
    user = fake_discord.add_user("li", locale="zh-CN")
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "invert"}, user=user)
        await hit.wait_for_response()
        assert hit.response_type == 5 and hit.deferred
        result = await hit.wait_for_original(lambda m: m.files)

    assert hit.data["resolved"]["attachments"][photo["id"]]["filename"] == "cat_photo.png"
    assert fake_discord.requests_to("GET", f"/ephemeral-attachments/*/{photo['id']}/*"), (
        "the bot downloaded it"
    )
    assert bot.seen["locale"] is discord.Locale.chinese and bot.seen["filesize_limit"] == 10 * 1024 * 1024
    assert result.content == "invert (from cat_photo.png, 8x6)" and not result.loading and result.edits == 1
    assert [f.filename for f in result.files] == ["edited.png"]
    assert result.attachments[0]["content_type"] == "image/png"
    assert (result.attachments[0]["width"], result.attachments[0]["height"]) == (8, 6)
    image = result.files[0].image()
    assert image.getpixel((0, 0)) == CYAN and image.getpixel((7, 5)) == CYAN
    assert result.custom_ids == ["editbot:retry:42"] and result.button(label="Retry")
    assert result in fake_discord.messages_in(hit.channel)


async def test_message_command_opens_modal_whose_submission_carries_text_and_file(
    fake_discord: FakeDiscord,
) -> None:
    target = await fake_discord.post_message(
        fake_discord.default_user, "look", attachments=[fake_discord.add_attachment(png(RED), "p.png")]
    )
    mask = fake_discord.add_attachment(png((0, 0, 0)), "mask.png")
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.message_command("Edit image", target)
        await hit.wait_for_response()
        assert hit.response_type == 9 and hit.modal is not None and hit.original is None
        assert hit.modal["title"] == "Edit this image"
        assert [c["type"] for c in hit.modal["components"]] == [18, 18]
        assert [c["component"]["type"] for c in hit.modal["components"]] == [4, 19]

        submitted = await hit.submit_modal({"prompt": "make it cyan", "mask": [mask]})
        result = await submitted.wait_for_original(lambda m: m.files)

    assert submitted.data["components"][1]["component"] == {
        "type": 19,
        "id": submitted.data["components"][1]["component"]["id"],
        "custom_id": "mask",
        "values": [mask["id"]],
    }
    assert bot.seen["modal"] == ("make it cyan", [png((0, 0, 0))])
    assert submitted.response_type == 5 and result.content == "edited: make it cyan"
    assert result.files[0].image().getpixel((0, 0)) == CYAN


async def test_modal_rejects_what_discord_clients_cannot_send(fake_discord: FakeDiscord) -> None:
    target = await fake_discord.post_message(fake_discord.default_user, "hi")
    async with running_client(TestBot(), fake_discord):
        hit = await (await fake_discord.message_command("Edit image", target)).wait_for_response()
        with pytest.raises(KeyError, match="promt"):
            await hit.submit_modal({"promt": "typo"})
        with pytest.raises(ValueError, match="required"):
            await hit.submit_modal({})


async def test_dynamic_button_works_after_restarting_the_client(fake_discord: FakeDiscord) -> None:
    photo = fake_discord.add_attachment(png(RED), "cat.png")
    async with running_client(TestBot(), fake_discord):
        hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "invert"})
        message = await hit.wait_for_original(lambda m: m.buttons)
    assert not fake_discord.is_bot_connected

    async with running_client(TestBot(), fake_discord):
        press = await fake_discord.button_press(message, "editbot:retry:42")
        await press.wait_for_response()

    assert fake_discord.session_count == 2
    assert press.response_type == 4 and press.payload["message"]["id"] == str(message.id)
    assert press.original is not None and press.original.ephemeral
    assert press.original.content == "retrying job 42"
    assert press.original.interaction_metadata is not None
    assert press.original.interaction_metadata["interacted_message_id"] == str(message.id)


async def test_editing_after_token_expiry_raises_http_401_so_the_bot_can_post_to_the_channel(
    fake_discord: FakeDiscord,
) -> None:
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("slow")
        await hit.wait_for_response()
        fake_discord.expire_token(hit)
        bot.gate.set()
        fallback = await fake_discord.wait_for_message(lambda m: "late" in m.content)

    error = bot.seen["edit_error"]
    # Neither NotFound nor Forbidden: the adapter must catch HTTPException and look at the code
    assert type(error) is discord.HTTPException
    assert (error.status, error.code) == (401, 50027)
    assert fallback.mentions == [fake_discord.default_user.id] and fallback.webhook_id is None
    assert hit.original is not None and hit.original.loading, "the placeholder was never filled"


async def test_answering_after_expiry_raises_not_found_unknown_interaction(fake_discord: FakeDiscord) -> None:
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("late")
        fake_discord.expire_token(hit)
        bot.gate.set()
        await fake_discord.wait_for(lambda: "defer_error" in bot.seen)
    error = bot.seen["defer_error"]
    assert isinstance(error, discord.NotFound) and (error.status, error.code) == (404, 10062)
    assert not hit.acknowledged


async def test_answering_twice_is_rejected(fake_discord: FakeDiscord) -> None:
    async with running_client(TestBot(), fake_discord):
        hit = await fake_discord.slash_command("settings", check_permissions=False)
        await hit.wait_for_response()
        async with aiohttp.ClientSession() as session:
            url = f"{fake_discord.api_url}/interactions/{hit.id}/{hit.token}/callback"
            async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
                assert response.status == 400
                assert (await response.json())["code"] == 40060
    assert len(hit.callbacks) == 1


async def test_followups_after_a_defer_fill_the_placeholder_first(fake_discord: FakeDiscord) -> None:
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("chatty")
        await fake_discord.wait_for(lambda: "followups" in bot.seen)
    first, second = bot.seen["followups"]
    assert hit.original is not None and hit.original.id == first and hit.original.content == "first"
    assert [m.id for m in hit.followups] == [first, second] and hit.followups[1].files


async def test_upload_limit_is_enforced_and_reported(fake_discord: FakeDiscord) -> None:
    async with FakeDiscord(attachment_size_limit=1024) as small, running_client(TestBot(), small):
        hit = await small.slash_command("upload", {"size": 2048})
        await hit.wait_for_response()
        rejected = [r for r in small.requests_to("POST", "/interactions/*") if r.status == 413]
        assert rejected and rejected[0].response == {"code": 40005, "message": "Request entity too large"}
        assert hit.original is not None and hit.original.content == "too big"
        assert hit.payload["attachment_size_limit"] == 1024


async def test_more_than_ten_files_are_refused(fake_discord: FakeDiscord) -> None:
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "many"}), content_type="application/json")
    for index in range(11):
        form.add_field(f"files[{index}]", b"x", filename=f"{index}.txt")
    url = f"{fake_discord.api_url}/channels/{fake_discord.default_channel.id}/messages"
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 50035
    assert not fake_discord.messages_in()


async def test_channel_message_needs_attach_files(fake_discord: FakeDiscord) -> None:
    bot = TestBot()
    fake_discord.set_bot_permissions(fake_discord.default_guild, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("post")
        await hit.wait_for_followup()
    error = bot.seen["post_error"]
    assert isinstance(error, discord.Forbidden) and error.code == 50013
    assert hit.original is not None and hit.original.ephemeral and hit.original.content == "ok"


async def test_commands_sync_globally_and_to_a_guild(fake_discord: FakeDiscord) -> None:
    guild = fake_discord.default_guild
    bot = TestBot(dev_guild=guild.id)
    admin = fake_discord.add_user("admin")
    guild.add_member(admin, admin=True)
    async with running_client(bot, fake_discord):
        names = {
            scope: sorted(c["name"] for c in commands)
            for scope, commands in fake_discord.commands_synced.items()
        }
        assert names == {
            None: ["Edit image", "chatty", "dm_me", "edit", "late", "post", "slow", "upload"],
            guild.id: ["settings"],
        }
        settings = fake_discord.command("settings", guild=guild)
        assert settings is not None and settings["default_member_permissions"] == str(int(Perm.MANAGE_GUILD))
        context_menu = fake_discord.command("Edit image", type=3)
        assert context_menu is not None and context_menu["description"] == ""

        with pytest.raises(PermissionError):
            await fake_discord.slash_command("settings")
        hit = await fake_discord.slash_command("settings", user=admin)
        await hit.wait_for_response()
        with pytest.raises(LookupError, match="settings"):
            await fake_discord.slash_command("settings", channel=fake_discord.dm_channel(admin))

    assert hit.data["guild_id"] == str(guild.id) and hit.data["id"] == settings["id"]
    assert bot.seen["settings_permissions"].manage_guild
    assert fake_discord.sync_count == 2


async def test_gateway_resume_after_server_side_disconnect(fake_discord: FakeDiscord) -> None:
    async with running_client(TestBot(), fake_discord):
        assert fake_discord.gateway.compressions_requested[-1] == "zlib-stream"
        await fake_discord.disconnect_bot(4000)
        await fake_discord.wait_for(lambda: fake_discord.resume_count == 1, what="a RESUME")
        hit = await fake_discord.slash_command("settings", check_permissions=False)
        await hit.wait_for_response()
    assert fake_discord.session_count == 1


async def test_bad_token_fails_login_and_identify(fake_discord: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with (
        point_discord_py(fake_discord.api_url, fake_discord.gateway_url),
        pytest.raises(discord.LoginFailure),
    ):
        await client.login("wrong")
    await client.close()

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(fake_discord.gateway_url + "?v=10") as ws,
    ):
        hello = await ws.receive_json()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closed = await ws.receive()
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004


async def test_gateway_zlib_stream_frames_decompress_with_one_context(fake_discord: FakeDiscord) -> None:
    inflate = zlib.decompressobj()
    url = fake_discord.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        frames: list[dict[str, Any]] = []
        await ws.send_json({"op": 2, "d": {"token": fake_discord.token, "intents": 0, "properties": {}}})
        while len(frames) < 3:  # HELLO, READY, GUILD_CREATE
            message = await ws.receive_bytes()
            assert message.endswith(b"\x00\x00\xff\xff")
            frames.append(json.loads(inflate.decompress(message)))
        await ws.send_json({"op": 1, "d": 2})
        ack = json.loads(inflate.decompress(await ws.receive_bytes()))
    assert [f["op"] for f in frames] == [10, 0, 0] and [f["s"] for f in frames[1:]] == [1, 2]
    assert frames[1]["t"] == "READY" and frames[1]["d"]["application"]["id"] == str(
        fake_discord.application_id
    )
    assert frames[2]["t"] == "GUILD_CREATE" and frames[2]["d"]["channels"]
    assert ack == {"op": 11}


async def test_unknown_routes_and_rate_limit_headers(fake_discord: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake_discord.api_url}/no/such/route", headers=headers) as response:
            assert response.status == 404 and await response.json() == {
                "message": "404: Not Found",
                "code": 0,
            }
            assert response.headers["Content-Type"] == "application/json"
            assert (
                int(response.headers["X-RateLimit-Remaining"]) > 0 and response.headers["X-RateLimit-Bucket"]
            )
        async with session.get(f"{fake_discord.api_url}/users/@me") as response:
            assert response.status == 401


async def test_injected_rate_limit_is_retried_by_discord_py(fake_discord: FakeDiscord) -> None:
    fake_discord.fail_next("PATCH", "/webhooks/*/messages/@original", 429, retry_after=0.01)
    photo = fake_discord.add_attachment(png(RED), "cat.png")
    async with running_client(TestBot(), fake_discord):
        hit = await fake_discord.slash_command("edit", {"image": photo, "prompt": "again"})
        await hit.wait_for_original(lambda m: m.files)
    statuses = [r.status for r in fake_discord.requests_to("PATCH", "/webhooks/*/messages/@original")]
    assert statuses == [429, 200]


async def test_commands_in_a_dm_and_users_who_refuse_dms(fake_discord: FakeDiscord) -> None:
    bob = fake_discord.add_user("bob", locale="de")
    carol = fake_discord.add_user("carol")
    carol.accepts_dms = False
    dm = fake_discord.dm_channel(bob)
    bot = TestBot()
    async with running_client(bot, fake_discord):
        hit = await fake_discord.slash_command("chatty", user=bob, channel=dm)
        await fake_discord.wait_for(lambda: "followups" in bot.seen)
        await (await fake_discord.slash_command("dm_me", user=bob)).wait_for_response()
        await (await fake_discord.slash_command("dm_me", user=carol)).wait_for_response()

    assert (
        hit.payload["context"] == 1
        and "member" not in hit.payload
        and hit.payload["user"]["id"] == str(bob.id)
    )
    assert hit.payload["locale"] == "de"
    assert [m.content for m in fake_discord.messages_in(dm)] == ["first", "second", "here you go"]
    error = bot.seen["dm_error"]
    assert isinstance(error, discord.Forbidden) and error.code == 50007
    assert not fake_discord.messages_in(fake_discord.dm_channel(carol))


async def test_user_messages_reach_the_bot_as_its_intents_allow(fake_discord: FakeDiscord) -> None:
    alice, bot = fake_discord.default_user, TestBot()
    photo = fake_discord.add_attachment(png(RED), "p.png", channel=fake_discord.default_channel)
    async with running_client(bot, fake_discord):
        await fake_discord.post_message(alice, "in the guild", attachments=[photo])
        await fake_discord.post_message(alice, f"{fake_discord.bot_user.mention} hello")
        await fake_discord.post_message(alice, "in a DM", channel=fake_discord.dm_channel(alice))
        await fake_discord.wait_for(lambda: len(bot.seen.get("messages", [])) == 3)
    # Intents.default() lacks MESSAGE_CONTENT: guild messages arrive empty unless they mention the bot
    assert bot.seen["messages"] == [
        (True, "", 0),
        (True, f"{fake_discord.bot_user.mention} hello", 0),
        (False, "in a DM", 0),
    ]
