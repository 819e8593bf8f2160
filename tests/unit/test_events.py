"""Origins as job rows store them: the typed reply handle reads rows stored before it existed."""

from core.events import Origin, ReplyHandle, Role, origin_from_json, origin_to_json
from core.identity import ChatRef, Community, Platform, UserKey

STORED = {
    "platform": "discord",
    "user_id": "7",
    "chat_id": "55",
    "thread_id": None,
    "event_id": "900",
    "community_id": "3",
    "locale": "zh-CN",
    "reply_to": None,
    "user_name": "ada",
    # As rows carried it when the handle was a free-form dict.
    "handle": {
        "application_id": "42",
        "token": "tok",
        "created": 1700000000.5,
        "upload_limit": 26214400,
        "mode": "followup",
    },
}


def test_a_stored_row_reads_into_a_typed_handle_and_back_unchanged() -> None:
    origin = origin_from_json(STORED)
    assert origin.handle == ReplyHandle("42", "tok", 1700000000.5, 26214400, "followup")
    assert origin.role is Role.MEMBER  # never stored: it may change any time
    assert origin_to_json(origin) == STORED


def test_an_origin_without_a_handle_stores_an_empty_object() -> None:
    user = UserKey(Platform.TELEGRAM, "1")
    origin = Origin(user, ChatRef(Platform.TELEGRAM, "-5"), "u1", Community(Platform.TELEGRAM, "-5"))
    assert not origin.handle and origin_to_json(origin)["handle"] == {}
    assert origin_from_json(origin_to_json(origin)) == origin


def test_old_rows_with_numbers_or_unknown_keys_still_read() -> None:
    handle = ReplyHandle.from_json({"application_id": 42, "token": "t", "n": [1, 2], "upload_limit": "8"})
    assert handle == ReplyHandle(application_id="42", token="t", upload_limit=8)
    assert ReplyHandle.from_json(None) == ReplyHandle()
