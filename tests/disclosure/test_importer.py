"""The KakaoTalk importer: the parser on tricky lines (no database), then `manage.py import_chat` on the
real exports in ../shared/testdata/kakao and on the fixtures written for the other formats."""

import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from disclosure.importers import kakao
from disclosure.importers.kakao import Action, Kind, ParsedLine, ParseError
from disclosure.importers.store import ImportFailed, account_uid, import_chat, load_mapping, merge
from disclosure.models import Account, Membership, Message, Room
from tests.factories import AccountFactory
from tests.shared_data import TESTDATA, needs

SEOUL = ZoneInfo("Asia/Seoul")
SHARED = TESTDATA / "kakao"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WINDOWS_KO = SHARED / "uoneway_KakaoTalk_export_file_exmple_window_kr.txt"
ANDROID_KO = SHARED / "uoneway_KakaoTalk_export_file_exmple_android_kr.txt"
ANDROID_EN = SHARED / "uoneway_KakaoTalk_export_file_exmple_android_en.txt"

# The multi-line message of the three shared samples: blank lines inside it kept, the blank line
# before the next date line dropped, its "- 번호표 배부 : …" line not taken for a sender.
SAMPLE_MULTILINE = (
    "화 19:30-22:30\n"
    "\n"
    "\n"
    "자유석권(선착순)\n"
    "오후 6시 녹화장 앞 번호표대로 줄서기, 6시 50분부터 입장\n"
    "- 번호표 배부 : 녹화일 9:00 ~ 18:20까지 (입장순서가 부여된 방청권 선착순 배부)\n"
    "- 입장시간: 18시까지 녹화장 앞에서 번호표대로 줄서기(번호표 지참), 18:50부터 입장\n"
    "- 번호표 배부는 오후 6시 20분에 마감. 마감 이후에 오신 분들은 별도로 통제합니다"
)

needs_shared = needs("kakao")
OWNER_UID, OWNER_NAME = "acct-owner", "Device Owner (fixture)"


def seoul(*args) -> datetime:
    return datetime(*args, tzinfo=SEOUL)


def records(text: str, **kwargs) -> list[ParsedLine | ParseError]:
    return list(kakao.parse(text, tz=SEOUL, **kwargs))


def messages_of(text: str, **kwargs) -> list[ParsedLine]:
    return [record for record in records(text, **kwargs) if isinstance(record, ParsedLine)]


def errors_of(text: str, **kwargs) -> list[ParseError]:
    return [record for record in records(text, **kwargs) if isinstance(record, ParseError)]


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_chat", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_json(path, room: str, *extra) -> tuple[dict, str]:
    out, err = run(path, "--room", room, "--json", *extra)
    return json.loads(out), err


def room_messages(room: str):
    return Message.objects.filter(room__external_id=room).select_related("sender").order_by("sent_at", "pk")


def senders_of(room: str) -> set[str]:
    return set(room_messages(room).values_list("sender__display_name", flat=True))


def kinds_of(room: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in room_messages(room).values_list("kind", flat=True):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def memberships_of(room: str) -> dict[str, list[tuple[datetime, datetime | None]]]:
    found: dict[str, list] = {}
    for membership in Membership.objects.filter(room__external_id=room).select_related("account"):
        found.setdefault(membership.account.display_name, []).append((membership.joined_at, membership.left_at))
    return {name: sorted(spans) for name, spans in found.items()}


# --- the parser, without a database -----------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(
    ("path", "expected"), [(WINDOWS_KO, "pc_ko"), (ANDROID_KO, "android_ko"), (ANDROID_EN, "android_en")]
)
def test_detect_format_of_each_shared_sample(path, expected):
    text, encoding = kakao.decode(path.read_bytes())
    assert kakao.detect_format(kakao.split_lines(text)) == expected
    assert encoding == "utf-8"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("windows_en.txt", "pc_en"),
        ("mac_ko.txt", "pc_ko"),
        ("ios_ko.txt", "ios_ko"),
        ("ios_en.txt", "ios_en"),
        ("mac.csv", "csv"),
        ("broken_android_ko.txt", "android_ko"),
        ("android_en_old.txt", "android_en_old"),
        ("android_en_dmy.txt", "android_en_dmy"),
        ("android_ko_old.txt", "android_ko"),
        ("ios_ko_old.txt", "ios_ko"),
        ("ios_en_old.txt", "ios_en"),
        ("ios_ymd.txt", "mobile_ymd"),
        ("mobile_ymd_ko.txt", "mobile_ymd"),
    ],
)
def test_detect_format_of_each_written_fixture(name, expected):
    text, _encoding = kakao.decode((FIXTURES / name).read_bytes())
    assert kakao.detect_format(kakao.split_lines(text)) == expected


def test_detect_format_refuses_a_file_that_is_no_kakaotalk_export():
    with pytest.raises(kakao.UnknownFormat):
        kakao.detect_format(["Dear Sir,", "", "please find attached the warrant.", "Regards"])


def test_header_title_in_every_spelling():
    assert kakao.read_title(["\ufeff김한길 님과 카카오톡 대화", "저장한 날짜 : …"]) == "김한길"
    assert kakao.read_title(["멘토님방 (4명)과 카카오톡 대화-1.txt"]) == "멘토님방"
    assert kakao.read_title(["KakaoTalk Chats with 멘토님방 (4 people)-1.txt"]) == "멘토님방"
    assert kakao.read_title(["멘토님방 with KakaoTalk Chats"]) == "멘토님방"
    assert kakao.read_title(["Date,User,Message"]) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2021년 5월 1일 오전 12:05, 홍길동 : 자정", seoul(2021, 5, 1, 0, 5)),
        ("2021년 5월 1일 오전 11:59, 홍길동 : 오전", seoul(2021, 5, 1, 11, 59)),
        ("2021년 5월 1일 오후 12:05, 홍길동 : 정오", seoul(2021, 5, 1, 12, 5)),
        ("2021년 5월 1일 오후 11:59, 홍길동 : 밤", seoul(2021, 5, 1, 23, 59)),
        ("2021. 5. 1. 오전 12:00, 홍길동 : 자정", seoul(2021, 5, 1, 0, 0)),
        ("May 1, 2021, 12:05 AM, Hong : midnight", seoul(2021, 5, 1, 0, 5)),
        ("May 1, 2021, 12:05 PM, Hong : noon", seoul(2021, 5, 1, 12, 5)),
        ("2021년 5월 1일 23:10, 홍길동 : 24시간제", seoul(2021, 5, 1, 23, 10)),
    ],
)
def test_am_pm_hours_with_midnight_as_00_and_noon_as_12(line, expected):
    [message] = messages_of(line + "\n")
    assert message.sent_at == expected
    assert message.sent_at.utcoffset().total_seconds() == 9 * 3600


def test_pc_times_take_the_date_of_the_separator_above():
    text = (
        "--------------- 2021년 5월 1일 토요일 ---------------\n"
        "[홍길동] [오전 12:05] 자정\n"
        "[홍길동] [오후 12:05] 정오\n"
        "--------------- Sunday, May 2, 2021 ---------------\n"
        "[Hong] [12:01 AM] midnight\n"
    )
    assert [m.sent_at for m in messages_of(text, fmt="pc_ko")] == [
        seoul(2021, 5, 1, 0, 5),
        seoul(2021, 5, 1, 12, 5),
        seoul(2021, 5, 2, 0, 1),
    ]


def test_times_are_read_in_the_zone_given():
    [message] = list(kakao.parse("2021년 5월 1일 오후 3:12, 홍길동 : hi\n", tz=ZoneInfo("UTC")))
    assert message.sent_at == datetime(2021, 5, 1, 15, 12, tzinfo=ZoneInfo("UTC"))


def test_a_name_with_commas_on_android():
    [ko] = messages_of("2021년 5월 1일 오후 3:12, 김, 철수 : 안녕\n")
    [en] = messages_of("May 1, 2021, 3:13 PM, Kim, Chulsoo : hi\n")
    assert (ko.sender, ko.body) == ("김, 철수", "안녕")
    assert (en.sender, en.body) == ("Kim, Chulsoo", "hi")


def test_a_name_containing_colon_is_read_when_known_otherwise_the_first_colon_splits():
    line = "2021년 5월 1일 오후 3:12, 이 : 영희 : 점심 : 김치찌개\n"
    [plain] = messages_of(line)
    assert (plain.sender, plain.body) == ("이", "영희 : 점심 : 김치찌개")
    [known] = messages_of(line, known_senders={"이 : 영희"})
    assert (known.sender, known.body) == ("이 : 영희", "점심 : 김치찌개")


def test_a_name_containing_colon_is_learnt_from_a_system_line():
    text = "2021년 5월 1일 오후 3:11, 이 : 영희님이 들어왔습니다.\n2021년 5월 1일 오후 3:12, 이 : 영희 : 안녕\n"
    joined, said = messages_of(text)
    assert (joined.kind, joined.sender, joined.event.action) == (Kind.SYSTEM, "이 : 영희", Action.JOIN)
    assert (said.sender, said.body) == ("이 : 영희", "안녕")


def test_continuation_lines_with_colons_and_dates_stay_in_the_message():
    text = (
        "2021년 5월 1일 오후 3:12, 홍길동 : 일정\n"
        "- 장소 : 회의실\n"
        "2021년 5월 3일에 다시 봐요\n"
        "\n"
        "[김철수] [오후 3:00] 이것도 본문\n"
        "\n"
        "\n"
        "2021년 5월 1일 오후 3:13, 김철수 : 네\n"
    )
    first, second = messages_of(text)
    assert first.body == "일정\n- 장소 : 회의실\n2021년 5월 3일에 다시 봐요\n\n[김철수] [오후 3:00] 이것도 본문"
    assert (first.line_no, first.end_line_no) == (1, 5)
    assert (second.sender, second.body) == ("김철수", "네")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("사진", Kind.PHOTO),
        ("사진 3장", Kind.PHOTO),
        ("Photo", Kind.PHOTO),
        ("(Photo)", Kind.PHOTO),
        ("2 photos", Kind.PHOTO),
        ("동영상", Kind.VIDEO),
        ("Video", Kind.VIDEO),
        ("이모티콘", Kind.EMOTICON),
        ("(emoticon)", Kind.EMOTICON),
        ("파일: report.pdf", Kind.FILE),
        ("File: report.pdf", Kind.FILE),
        ("사진 보내줘", Kind.TEXT),
        ("사진\n설명", Kind.TEXT),
        ("https://www.youtube.com", Kind.TEXT),
    ],
)
def test_media_placeholders_give_the_kind(body, kind):
    assert kakao.classify(body) == kind


@pytest.mark.parametrize(
    ("text", "action", "subjects", "actor", "account"),
    [
        ("홍길동님이 들어왔습니다.", Action.JOIN, ("홍길동",), None, "홍길동"),
        ("홍길동님이 나갔습니다.", Action.LEAVE, ("홍길동",), None, "홍길동"),
        ("박영우님이 김민기님과 수ㅈ님을 초대했습니다.", Action.INVITE, ("김민기", "수ㅈ"), "박영우", "박영우"),
        (
            "박영우님이 김, 민기님, 수ㅈ님과 A : B님을 초대하였습니다.",
            Action.INVITE,
            ("김, 민기", "수ㅈ", "A : B"),
            "박영우",
            "박영우",
        ),
        ("채팅방 관리자가 홍길동님을 내보냈습니다.", Action.REMOVE, ("홍길동",), None, "홍길동"),
        ("Hong Gildong joined this chatroom.", Action.JOIN, ("Hong Gildong",), None, "Hong Gildong"),
        ("Hong Gildong left this chatroom.", Action.LEAVE, ("Hong Gildong",), None, "Hong Gildong"),
        ("박영우 invited 김민기 and 수ㅈ.", Action.INVITE, ("김민기", "수ㅈ"), "박영우", "박영우"),
        ("박영우 invited 김민기 and.", Action.INVITE, ("김민기",), "박영우", "박영우"),
    ],
)
def test_system_lines_name_who_joined_left_or_invited(text, action, subjects, actor, account):
    event = kakao.system_event(text)
    assert (event.action, event.subjects, event.actor, event.account_name) == (action, subjects, actor, account)


def test_pc_system_lines_take_the_time_after_a_join_and_the_time_before_a_leave():
    text = (
        "--------------- 2021년 5월 1일 토요일 ---------------\n"
        "[홍길동] [오후 3:00] 안녕\n"
        "김철수님이 들어왔습니다.\n"
        "[김철수] [오후 3:20] 반가워요\n"
        "이영희님이 들어왔습니다.\n"
        "--------------- 2021년 5월 4일 화요일 ---------------\n"
        "김철수님이 나갔습니다.\n"
        "[홍길동] [오전 9:00] 아무도 없나\n"
        "홍길동님이 나갔습니다.\n"
        "박민수님이 들어왔습니다.\n"
    )
    found = [(m.sender, m.kind, m.sent_at) for m in messages_of(text)]
    assert found == [
        ("홍길동", Kind.TEXT, seoul(2021, 5, 1, 15, 0)),
        ("김철수", Kind.SYSTEM, seoul(2021, 5, 1, 15, 20)),  # joined before the next message
        ("김철수", Kind.TEXT, seoul(2021, 5, 1, 15, 20)),
        ("이영희", Kind.SYSTEM, seoul(2021, 5, 4, 0, 0)),  # joined before the next date line
        ("김철수", Kind.SYSTEM, seoul(2021, 5, 4, 0, 0)),  # left after the date line
        ("홍길동", Kind.TEXT, seoul(2021, 5, 4, 9, 0)),
        ("홍길동", Kind.SYSTEM, seoul(2021, 5, 4, 9, 0)),  # left after the last message
        ("박민수", Kind.SYSTEM, seoul(2021, 5, 4, 9, 0)),  # end of the file: the last time known
    ]


def test_an_english_sentence_with_invited_continues_the_message_on_pc():
    text = (
        "--------------- Saturday, May 1, 2021 ---------------\n"
        "[Hong] [3:00 PM] News:\n"
        "I invited everyone.\n"
        "[Hong] [3:01 PM] ok\n"
        "Hong invited Kim.\n"
    )
    news, _ok, invite = messages_of(text)
    assert news.body == "News:\nI invited everyone."
    assert (invite.kind, invite.sender, invite.event.subjects) == (Kind.SYSTEM, "Hong", ("Kim",))


def test_a_line_before_any_message_is_unreadable_but_blank_and_header_lines_are_not():
    text = (
        "홍길동 님과 카카오톡 대화\n"
        "저장한 날짜 : 2021년 5월 3일 오전 9:15\n"
        "\n"
        "잡음\n"
        "2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n"
    )
    [error] = errors_of(text)
    assert (error.line_no, error.text) == (4, "잡음")
    assert str(error).startswith("line 4: unreadable")


def test_the_first_line_is_the_title_whatever_its_wording():
    text = "Talk_2021.5.1 15:12-1\n\n2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n"
    assert errors_of(text) == []
    assert [m.body for m in messages_of(text)] == ["안녕"]


def test_impossible_dates_and_times_are_reported_and_their_continuations_go_with_them():
    text = (
        "2021년 5월 1일 오후 3:12, 홍길동 : 좋은 줄\n"
        "2021년 13월 1일 오후 3:12, 홍길동 : 13월\n"
        "13월의 둘째 줄\n"
        "2021년 2월 30일 오후 3:12, 홍길동 : 2월 30일\n"
        "2021년 5월 1일 오후 13:05, 홍길동 : 오후 13시\n"
        "2021년 5월 1일 오전 9:60, 홍길동 : 60분\n"
        "2021년 5월 1일 오후 3:13, 홍길동 : 다시 좋은 줄\n"
    )
    assert [str(error) for error in errors_of(text)] == [
        "line 2: cannot read the date '2021년 13월 1일'",
        "line 4: cannot read the date '2021년 2월 30일'",
        "line 5: cannot read the time '오후 13:05'",
        "line 6: cannot read the time '오전 9:60'",
    ]
    assert [m.body for m in messages_of(text)] == ["좋은 줄", "다시 좋은 줄"]


def test_pc_messages_under_an_unreadable_date_line_are_reported():
    text = (
        "--------------- 2021년 5월 1일 토요일 ---------------\n"
        "[홍길동] [오후 3:00] 좋은 줄\n"
        "--------------- 2021년 5월 32일 토요일 ---------------\n"
        "[홍길동] [오후 3:01] 날짜 모름\n"
        "[홍길동] [오후 25:01] 시간도 이상\n"
    )
    assert [str(error) for error in errors_of(text)] == [
        "line 3: cannot read the date '2021년 5월 32일 토요일'",
        "line 4: no readable date line before this message",
        "line 5: no readable date line before this message",
    ]


def test_csv_rows_with_a_wrong_column_count_or_date_are_reported():
    text = (
        "Date,User,Message\n"
        '2021-05-01 15:12:00,"홍길동","좋은 줄"\n'
        '2021-05-01 15:13:00,"홍길동"\n'
        '2021-13-01 15:14:00,"홍길동","13월"\n'
        '어제,"홍길동","날짜 아님"\n'
        '2021-05-01 15:15:00,"홍길동","여러 줄,\n'
        '둘째 줄"\n'
        '2021-05-01 15:16:00,"홍길동","끝"\n'
    )
    assert [str(error) for error in errors_of(text)] == [
        "line 3: expected 3 columns (Date,User,Message), found 2",
        "line 4: cannot read the date '2021-13-01 15:14:00'",
        "line 5: cannot read the date '어제'",
    ]
    bodies = [(m.line_no, m.end_line_no, m.body) for m in messages_of(text)]
    assert bodies == [(2, 2, "좋은 줄"), (6, 7, "여러 줄,\n둘째 줄"), (8, 8, "끝")]


def test_csv_user_typing_a_system_like_sentence_stays_text():
    text = 'Date,User,Message\n2021-05-01 15:12:00,"홍길동","김철수님이 나갔습니다."\n'
    [message] = messages_of(text)
    assert (message.kind, message.event) == (Kind.TEXT, None)


def test_lines_split_at_lf_with_crlf_dropped_bom_removed_and_unicode_separators_kept():
    assert kakao.split_lines("\ufeffa\r\nb\n\r\nc\u2028d\n") == ["a", "b", "", "c\u2028d"]


def test_decode_utf8_bom_utf16_and_cp949():
    assert kakao.decode("\ufeff홍길동".encode()) == ("홍길동", "utf-8")
    assert kakao.decode("홍길동".encode("utf-16")) == ("홍길동", "utf-16")
    assert kakao.decode("홍길동 님과 카카오톡 대화".encode("cp949")) == ("홍길동 님과 카카오톡 대화", "cp949")
    with pytest.raises(UnicodeDecodeError):
        kakao.decode("홍길동".encode("cp949"), "utf-8")


def test_membership_merge_keeps_a_leave_whatever_the_import_order():
    jan, feb, mar, apr, jun = (seoul(2021, month, 1) for month in (1, 2, 3, 4, 6))
    # An early export shows the account still there; a later one shows it leaving in February.
    assert merge([(jan, None)], [(jan, feb)], jun) == [(jan, feb)]
    assert merge([(jan, feb)], [(jan, None)], mar) == [(jan, feb)]
    # A later export shows the account back in April: an earlier one cannot undo that.
    assert merge([(apr, None)], [(jan, feb)], mar) == [(jan, feb), (apr, None)]
    # The same file again changes nothing.
    assert merge([(jan, feb), (mar, None)], [(jan, feb), (mar, None)], jun) == [(jan, feb), (mar, None)]


# --- the shared real exports --------------------------------------------------------------------------

SHARED_EXPECTED = [
    pytest.param(
        WINDOWS_KO,
        "pc_ko",
        5,
        {"김한길"},
        seoul(2020, 6, 28, 1, 1),
        seoul(2020, 8, 11, 12, 11),
        seoul(2020, 8, 11, 2, 41),
        id="windows-pc-korean",
    ),
    pytest.param(
        ANDROID_KO,
        "android_ko",
        6,
        {OWNER_NAME},
        seoul(2016, 2, 5, 1, 33),
        seoul(2016, 3, 25, 11, 2),
        seoul(2016, 3, 25, 11, 2),
        id="android-korean",
    ),
    pytest.param(
        ANDROID_EN,
        "android_en",
        6,
        {OWNER_NAME},
        seoul(2016, 2, 10, 2, 33),
        seoul(2016, 3, 20, 23, 59),
        seoul(2016, 2, 25, 15, 36),
        id="android-english",
    ),
]


@needs_shared
@pytest.mark.django_db
@pytest.mark.parametrize(("path", "fmt", "count", "senders", "first", "last", "multiline_at"), SHARED_EXPECTED)
def test_import_each_shared_sample(path, fmt, count, senders, first, last, multiline_at):
    owner = AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    summary, err = run_json(path, "kakao-sample", "--me", OWNER_UID)
    assert summary == {
        "rooms": 1,
        "senders": 1,
        "messages": count,
        "duplicates": 0,
        "skipped": 0,
        "format": fmt,
        "errors": [],
    }
    assert err == ""
    stored = list(room_messages("kakao-sample"))
    assert len(stored) == count
    assert senders_of("kakao-sample") == senders
    assert stored[0].sent_at == first
    assert stored[-1].sent_at == last
    assert stored[0].sent_at.astimezone(SEOUL).utcoffset().total_seconds() == 9 * 3600
    [multiline] = [m for m in stored if "\n" in m.body]
    assert (multiline.sent_at, multiline.body, multiline.kind) == (multiline_at, SAMPLE_MULTILINE, "TEXT")
    assert kinds_of("kakao-sample") == {"PHOTO": 1, "TEXT": count - 1}
    room = Room.objects.get(external_id="kakao-sample")
    assert (room.title, room.kind) == ("김한길", Room.Kind.GROUP)
    [name] = senders
    assert memberships_of("kakao-sample") == {name: [(first, None)]}
    if name == OWNER_NAME:  # the exporter's own messages, labelled 회원님 / you, are the owner's account's
        assert set(room_messages("kakao-sample").values_list("sender", flat=True)) == {owner.pk}
        assert Account.objects.count() == 1
    else:
        assert Account.objects.get(display_name=name).uid == account_uid("kakao-sample", name)


@needs_shared
@pytest.mark.django_db
def test_windows_sample_exact_messages():
    run_json(WINDOWS_KO, "win")
    assert [(m.sent_at, m.kind, m.body.split("\n")[0]) for m in room_messages("win")] == [
        (seoul(2020, 6, 28, 1, 1), "PHOTO", "사진"),
        (seoul(2020, 6, 28, 1, 3), "TEXT", "공부하기"),
        (seoul(2020, 8, 11, 2, 41), "TEXT", "화 19:30-22:30"),
        (seoul(2020, 8, 11, 12, 3), "TEXT", "https://www.youtube.com"),  # 오후 12:03 is noon
        (seoul(2020, 8, 11, 12, 11), "TEXT", "https://news.naver.com/main/main.nhn?mode=LSD&mid=shm&sid1=100"),
    ]


@needs_shared
@pytest.mark.django_db
def test_reimport_of_the_same_file_adds_nothing_and_reports_duplicates():
    AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    first, _ = run_json(ANDROID_KO, "again", "--me", OWNER_UID)
    memberships = list(Membership.objects.values_list("pk", "joined_at", "left_at"))
    accounts = Account.objects.count()
    second, err = run_json(ANDROID_KO, "again", "--me", OWNER_UID)
    assert (first["messages"], first["duplicates"]) == (6, 0)
    assert (second["messages"], second["duplicates"], second["skipped"]) == (0, 6, 0)
    assert err == ""
    assert Message.objects.count() == 6
    assert Account.objects.count() == accounts
    assert list(Membership.objects.values_list("pk", "joined_at", "left_at")) == memberships


@needs_shared
@pytest.mark.django_db
def test_same_sample_into_two_rooms_makes_separate_accounts():
    run_json(WINDOWS_KO, "room-a")
    run_json(WINDOWS_KO, "room-b")
    assert Message.objects.count() == 10
    assert set(Account.objects.values_list("uid", flat=True)) == {
        account_uid("room-a", "김한길"),
        account_uid("room-b", "김한길"),
    }


@needs_shared
@pytest.mark.django_db
def test_the_device_owner_is_one_account_in_every_room_imported_with_me():
    owner = AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    run_json(ANDROID_KO, "room-a", "--me", OWNER_UID)
    run_json(ANDROID_EN, "room-b", "--me", OWNER_UID)
    assert Message.objects.count() == 12
    assert list(Account.objects.all()) == [owner]
    assert set(Membership.objects.values_list("room__external_id", "account__uid")) == {
        ("room-a", OWNER_UID),
        ("room-b", OWNER_UID),
    }


@needs_shared
@pytest.mark.django_db
def test_human_summary_on_stdout():
    out, err = run(WINDOWS_KO, "--room", "human", "--title", "수사 대상 방")
    assert "uoneway_KakaoTalk_export_file_exmple_window_kr.txt: pc_ko → room human (new)" in out
    assert "senders: 1" in out
    assert "messages added: 5" in out
    assert "duplicates skipped: 0" in out
    assert err == ""
    assert Room.objects.get(external_id="human").title == "수사 대상 방"


@needs_shared
@pytest.mark.django_db
def test_cp949_export_of_old_windows_is_detected(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes(WINDOWS_KO.read_text(encoding="utf-8").encode("cp949"))
    summary, _ = run_json(path, "cp949")
    assert (summary["messages"], summary["format"]) == (5, "pc_ko")
    assert room_messages("cp949").last().body == "https://news.naver.com/main/main.nhn?mode=LSD&mid=shm&sid1=100"


@needs_shared
@pytest.mark.django_db
def test_tz_option_reads_the_times_in_that_zone():
    run_json(WINDOWS_KO, "utc", "--tz", "UTC")
    assert room_messages("utc").first().sent_at == datetime(2020, 6, 28, 1, 1, tzinfo=ZoneInfo("UTC"))


# --- the written fixtures for the other formats --------------------------------------------------------


@pytest.mark.django_db
def test_import_windows_english_fixture():
    summary, err = run_json(FIXTURES / "windows_en.txt", "win-en")
    assert summary == {
        "rooms": 1,
        "senders": 3,
        "messages": 11,
        "duplicates": 0,
        "skipped": 0,
        "format": "pc_en",
        "errors": [],
    }
    assert err == ""
    assert senders_of("win-en") == {"Hong Gildong", "Kim, Chulsoo", "Lee : Younghee"}
    assert kinds_of("win-en") == {"TEXT": 5, "PHOTO": 1, "EMOTICON": 1, "FILE": 1, "VIDEO": 1, "SYSTEM": 2}
    stored = list(room_messages("win-en"))
    assert stored[0].sent_at == seoul(2021, 5, 1, 0, 5)  # 12:05 AM
    assert stored[-1].sent_at == seoul(2021, 5, 2, 23, 59)
    [notes] = [m for m in stored if m.body == "Meeting notes:\n1. budget\n2. schedule : next Friday\n\nSee you all"]
    assert (notes.sender.display_name, notes.sent_at) == ("Hong Gildong", seoul(2021, 5, 1, 12, 15))
    assert Room.objects.get(external_id="win-en").title == "Study group"
    assert memberships_of("win-en") == {
        "Hong Gildong": [(seoul(2021, 5, 1, 0, 5), None)],
        "Kim, Chulsoo": [(seoul(2021, 5, 1, 0, 7), None)],
        "Lee : Younghee": [(seoul(2021, 5, 1, 9, 30), seoul(2021, 5, 1, 15, 13, 1))],
    }


@pytest.mark.django_db
def test_import_mac_korean_fixture_with_join_invite_and_leave_lines():
    summary, _ = run_json(FIXTURES / "mac_ko.txt", "mac-ko")
    assert (summary["format"], summary["messages"], summary["senders"], summary["skipped"]) == ("pc_ko", 11, 4, 0)
    assert senders_of("mac-ko") == {"홍길동", "김, 철수", "이 : 영희", "박민수"}
    assert kinds_of("mac-ko") == {"TEXT": 4, "PHOTO": 1, "EMOTICON": 1, "FILE": 1, "VIDEO": 1, "SYSTEM": 3}
    system = [(m.sender.display_name, m.sent_at, m.body) for m in room_messages("mac-ko").filter(kind="SYSTEM")]
    assert system == [
        ("홍길동", seoul(2021, 5, 1, 0, 5), "홍길동님이 들어왔습니다."),
        ("홍길동", seoul(2021, 5, 1, 15, 15), "홍길동님이 박민수님을 초대했습니다."),
        ("이 : 영희", seoul(2021, 5, 1, 15, 15), "이 : 영희님이 나갔습니다."),
    ]
    assert memberships_of("mac-ko") == {
        "홍길동": [(seoul(2021, 5, 1, 0, 5), None)],
        "김, 철수": [(seoul(2021, 5, 1, 0, 7), None)],
        "이 : 영희": [(seoul(2021, 5, 1, 9, 30), seoul(2021, 5, 1, 15, 15, 1))],
        "박민수": [(seoul(2021, 5, 1, 15, 15), None)],
    }


@pytest.mark.django_db
def test_import_ios_korean_fixture_with_bom_crlf_and_names_with_comma_and_colon():
    summary, _ = run_json(FIXTURES / "ios_ko.txt", "ios-ko")
    assert (summary["format"], summary["messages"], summary["senders"], summary["skipped"]) == ("ios_ko", 10, 3, 0)
    assert senders_of("ios-ko") == {"홍길동", "김, 철수", "이 : 영희"}
    assert kinds_of("ios-ko") == {"TEXT": 3, "PHOTO": 2, "EMOTICON": 1, "FILE": 1, "VIDEO": 1, "SYSTEM": 2}
    stored = list(room_messages("ios-ko"))
    assert stored[0].sent_at == seoul(2025, 10, 23, 0, 1)  # 오전 12:01
    assert stored[-1].sent_at == seoul(2025, 10, 24, 8, 30)
    assert [m.body for m in stored if m.sender.display_name == "이 : 영희"] == ["이모티콘", "점심 메뉴 : 김치찌개"]
    assert "오늘 할 일\n- 보고서 작성 : 오후 3시까지\n- 회의 준비\n\n끝!" in [m.body for m in stored]
    assert Room.objects.get(external_id="ios-ko").title == "스터디 모임"
    assert memberships_of("ios-ko") == {
        "홍길동": [(seoul(2025, 10, 23, 0, 1), None)],
        "김, 철수": [(seoul(2025, 10, 23, 0, 1), seoul(2025, 10, 24, 8, 0, 1))],
        "이 : 영희": [(seoul(2025, 10, 23, 0, 1), None)],
    }


@pytest.mark.django_db
def test_import_ios_english_fixture():
    summary, _ = run_json(FIXTURES / "ios_en.txt", "ios-en")
    assert (summary["format"], summary["messages"], summary["senders"], summary["skipped"]) == ("ios_en", 9, 3, 0)
    assert senders_of("ios-en") == {"Hong Gildong", "Park Minsu", "Lee : Younghee"}
    assert kinds_of("ios-en") == {"TEXT": 2, "PHOTO": 2, "EMOTICON": 1, "FILE": 1, "VIDEO": 1, "SYSTEM": 2}
    stored = list(room_messages("ios-en"))
    assert (stored[0].sent_at, stored[-1].sent_at) == (seoul(2025, 10, 23, 0, 1), seoul(2025, 10, 24, 8, 30))
    assert "Today's tasks\n- report : by 3 PM\n- meeting prep\n\nDone!" in [m.body for m in stored]
    assert memberships_of("ios-en")["Park Minsu"] == [(seoul(2025, 10, 23, 0, 1), seoul(2025, 10, 24, 8, 0, 1))]


@pytest.mark.django_db
def test_import_csv_fixture_with_repeated_identical_rows_kept_apart():
    summary, _ = run_json(FIXTURES / "mac.csv", "csv")
    assert (summary["format"], summary["messages"], summary["senders"], summary["skipped"]) == ("csv", 9, 4, 0)
    assert senders_of("csv") == {"홍길동", "Kim, Chulsoo", "이 : 영희", "박민수"}
    assert kinds_of("csv") == {"TEXT": 3, "PHOTO": 2, "EMOTICON": 1, "FILE": 1, "VIDEO": 1, "SYSTEM": 1}
    stored = list(room_messages("csv"))
    assert (stored[0].sent_at, stored[-1].sent_at) == (seoul(2021, 5, 1, 0, 5, 10), seoul(2021, 5, 1, 15, 21))
    assert '회의 메모:\n1. 예산, 일정\n\n다들 "확인" 부탁해요' in [m.body for m in stored]
    photos = [m for m in stored if m.kind == "PHOTO"]
    assert len({m.fingerprint for m in photos}) == 2  # the same photo line twice is two messages
    assert Room.objects.get(external_id="csv").title == ""
    again, _ = run_json(FIXTURES / "mac.csv", "csv")
    assert (again["messages"], again["duplicates"]) == (0, 9)


# --- broken lines ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_file_with_broken_lines_imports_the_good_ones_and_reports_the_bad_ones():
    summary, err = run_json(FIXTURES / "broken_android_ko.txt", "broken")
    assert summary["messages"] == 4
    assert summary["skipped"] == 4
    assert summary["errors"] == [
        {"line": 4, "reason": "unreadable: not a message, and no message before it to continue"},
        {"line": 9, "reason": "cannot read the date '2021년 13월 1일'"},
        {"line": 11, "reason": "cannot read the time '오후 13:05'"},
        {"line": 14, "reason": "system line that names no account, not stored: 알 수 없는 시스템 메시지입니다."},
    ]
    assert err.splitlines() == [
        "line 4: unreadable: not a message, and no message before it to continue: 이 줄은 메시지가 아닙니다",
        "line 9: cannot read the date '2021년 13월 1일': 2021년 13월 1일 오후 3:12, 홍길동 : 날짜가 잘못됨",
        "line 11: cannot read the time '오후 13:05': 2021년 5월 1일 오후 13:05, 김철수 : 시간이 잘못됨",
        "line 14: system line that names no account, not stored: 알 수 없는 시스템 메시지입니다.",
    ]
    assert [(m.sent_at, m.sender.display_name, m.body) for m in room_messages("broken")] == [
        (seoul(2021, 5, 1, 0, 5), "홍길동", "자정 지나서 보냄"),
        (seoul(2021, 5, 1, 0, 30), "김철수", "사진"),
        (seoul(2021, 5, 1, 15, 20), "김철수", "정상 메시지\n둘째 줄"),
        (seoul(2021, 5, 1, 23, 59), "홍길동", "마지막"),
    ]
    assert Room.objects.get(external_id="broken").kind == Room.Kind.DIRECT  # exactly two people wrote


# --- mapping, options, fatal errors ------------------------------------------------------------------


@pytest.mark.django_db
def test_mapping_file_maps_senders_to_existing_accounts():
    hong = AccountFactory(uid="acct-hong", display_name="홍길동 (실명)")
    kim = AccountFactory(uid="acct-kim", display_name="Kim Chulsoo")
    summary, _ = run_json(FIXTURES / "mac.csv", "mapped", "--map", FIXTURES / "mapping.csv")
    assert summary["senders"] == 4
    assert room_messages("mapped").filter(sender=hong).count() == 3
    assert room_messages("mapped").filter(sender=kim).count() == 3
    assert Account.objects.count() == 4  # the two mapped, 이 : 영희 and 박민수 new
    assert Account.objects.get(uid=account_uid("mapped", "박민수")).display_name == "박민수"
    assert set(Membership.objects.filter(room__external_id="mapped").values_list("account__uid", flat=True)) == {
        "acct-hong",
        "acct-kim",
        account_uid("mapped", "이 : 영희"),
        account_uid("mapped", "박민수"),
    }


@pytest.mark.django_db
def test_json_mapping_resolves_a_name_containing_colon(tmp_path):
    lee = AccountFactory(uid="acct-lee", display_name="이영희")
    mapping = tmp_path / "names.json"
    mapping.write_text(json.dumps({"이 : 영희": "acct-lee"}, ensure_ascii=False), encoding="utf-8")
    text = "2021년 5월 1일 오후 3:12, 이 : 영희 : 회의 : 3시\n2021년 5월 1일 오후 3:13, 홍길동 : 네\n"
    export = tmp_path / "export.txt"
    export.write_text(text, encoding="utf-8")
    run_json(export, "json-map", "--map", mapping)
    message = room_messages("json-map").get(sender=lee)
    assert message.body == "회의 : 3시"
    assert load_mapping(mapping) == {"이 : 영희": "acct-lee"}


@pytest.mark.django_db
def test_mapping_with_an_unknown_account_is_an_error_before_anything_is_written(tmp_path):
    mapping = tmp_path / "names.csv"
    mapping.write_text("홍길동,no-such-account\n", encoding="utf-8")
    with pytest.raises(CommandError, match="the mapping names accounts that do not exist: no-such-account"):
        run(FIXTURES / "mac.csv", "--room", "bad-map", "--map", mapping)
    assert not Room.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_bad_time_zone_is_a_clear_error():
    with pytest.raises(CommandError, match="unknown time zone 'Asia/Sool'"):
        run(FIXTURES / "mac.csv", "--room", "tz", "--tz", "Asia/Sool")
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"no such file: .*missing\.txt"):
        run(tmp_path / "missing.txt", "--room", "missing")


@pytest.mark.django_db
def test_file_in_no_known_format_is_a_clear_error(tmp_path):
    path = tmp_path / "letter.txt"
    path.write_text("Dear Sir,\nplease find the warrant attached.\n", encoding="utf-8")
    with pytest.raises(CommandError, match="not a KakaoTalk export"):
        run(path, "--room", "letter")
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_room_kind_and_title_options_and_direct_default(tmp_path):
    export = tmp_path / "dm.txt"
    export.write_text(
        "2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n2021년 5월 1일 오후 3:13, 김철수 : 네\n", encoding="utf-8"
    )
    run_json(export, "dm")
    run_json(export, "open", "--kind", "OPEN", "--title", "공개방")
    assert Room.objects.get(external_id="dm").kind == Room.Kind.DIRECT
    assert (Room.objects.get(external_id="open").kind, Room.objects.get(external_id="open").title) == ("OPEN", "공개방")


@pytest.mark.django_db
def test_a_later_overlapping_export_adds_only_the_new_messages_and_closes_the_membership(tmp_path):
    early = tmp_path / "early.txt"
    early.write_text(
        "2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n2021년 5월 1일 오후 3:13, 김철수 : 네\n", encoding="utf-8"
    )
    later = tmp_path / "later.txt"
    later.write_text(
        "2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n"
        "2021년 5월 1일 오후 3:13, 김철수 : 네\n"
        "2021년 5월 2일 오전 9:00, 김철수 : 저 나갈게요\n"
        "2021년 5월 2일 오전 9:01, 김철수님이 나갔습니다.\n",
        encoding="utf-8",
    )
    run_json(early, "overlap")
    summary, _ = run_json(later, "overlap")
    assert (summary["messages"], summary["duplicates"]) == (2, 2)
    assert memberships_of("overlap") == {
        "홍길동": [(seoul(2021, 5, 1, 15, 12), None)],
        "김철수": [(seoul(2021, 5, 1, 15, 13), seoul(2021, 5, 2, 9, 1, 1))],
    }
    run_json(early, "overlap")  # the early export again does not reopen it
    assert memberships_of("overlap")["김철수"] == [(seoul(2021, 5, 1, 15, 13), seoul(2021, 5, 2, 9, 1, 1))]


@pytest.mark.django_db
def test_join_and_leave_in_the_same_minute_make_a_membership_ending_just_after_the_leave(tmp_path):
    export = tmp_path / "blink.txt"
    export.write_text(
        "2021년 5월 1일 오후 3:12, 홍길동 : 안녕\n"
        "2021년 5월 1일 오후 3:13, 김철수님이 들어왔습니다.\n"
        "2021년 5월 1일 오후 3:13, 김철수님이 나갔습니다.\n",
        encoding="utf-8",
    )
    run_json(export, "blink")
    assert memberships_of("blink")["김철수"] == [(seoul(2021, 5, 1, 15, 13), seoul(2021, 5, 1, 15, 13, 1))]


@pytest.mark.django_db
def test_import_chat_function_reports_progress_and_takes_text():
    seen = []
    text = "".join(f"2021년 5월 1일 오후 3:{minute:02d}, 홍길동 : {minute}\n" for minute in range(60))
    summary = import_chat(
        text, room_external_id="fn", tz=SEOUL, progress=lambda done, total: seen.append((done, total))
    )
    assert (summary.messages, summary.format, summary.skipped) == (60, "android_ko", 0)
    assert seen[-1] == (60, 60)
    with pytest.raises(ImportFailed, match="cannot read"):
        import_chat(Path("/nonexistent/export.txt"), room_external_id="fn", tz=SEOUL)


@pytest.mark.django_db
def test_progress_bar_on_stderr_for_a_large_file(tmp_path):
    export = tmp_path / "large.txt"
    export.write_text(
        "".join(f"2021년 5월 1일 오후 3:{n % 60:02d}, 홍길동 : 메시지 {n}\n" for n in range(25_000)), encoding="utf-8"
    )
    out, err = run(export, "--room", "large", "--json", "--progress")
    assert json.loads(out)["messages"] == 25_000
    assert "100% 25,000/25,000 lines" in err.splitlines()[-1]
    _out, quiet = run(export, "--room", "large", "--json")
    assert quiet == ""  # not a terminal and no --progress: no bar


# --- older and other layouts (issue #10.9), the device owner's self-label -------------------------------

# The same conversation written in each layout: (fixture, format, names of the three others, the owner's
# lines' bodies and the media bodies in that language).
LAYOUTS_EN = ("Alpha Fixture", "Bravo Fixture", "Charlie Fixture")
LAYOUTS_KO = ("가상갑", "가상을", "가상병")
LAYOUT_FIXTURES = [
    pytest.param("android_en_old.txt", "android_en_old", LAYOUTS_EN, "en", id="android-en-time-first"),
    pytest.param("android_en_dmy.txt", "android_en_dmy", LAYOUTS_EN, "en", id="android-en-day-month-year"),
    pytest.param("ios_en_old.txt", "ios_en", LAYOUTS_EN, "en", id="ios-en-at"),
    pytest.param("ios_ymd.txt", "mobile_ymd", LAYOUTS_EN, "en", id="ios-year-month-day-24h"),
    pytest.param("android_ko_old.txt", "android_ko", LAYOUTS_KO, "ko", id="android-ko-old"),
    pytest.param("ios_ko_old.txt", "ios_ko", LAYOUTS_KO, "ko", id="ios-ko-old-na"),
    pytest.param("mobile_ymd_ko.txt", "mobile_ymd", LAYOUTS_KO, "ko", id="mobile-ymd-ko"),
]
LAYOUT_BODIES = {
    "en": ("Hello, is this the right room?", "Yes : come in\nsecond line of the message", "noon", "File: notes.pdf"),
    "ko": ("안녕하세요", "네 : 반갑습니다\n둘째 줄", "정오", "파일: 메모.pdf"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "fmt", "others", "language"), LAYOUT_FIXTURES)
def test_import_each_older_layout_with_the_owner_named(name, fmt, others, language):
    alpha, bravo, charlie = others
    hello, owner_text, noon, file_body = LAYOUT_BODIES[language]
    AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    summary, err = run_json(FIXTURES / name, "layout", "--me", OWNER_UID)
    assert (summary["format"], summary["messages"], summary["skipped"], summary["errors"], err) == (fmt, 8, 0, [], "")
    assert summary["senders"] == 4
    stored = [(m.sender.display_name, m.sent_at, m.kind, m.body) for m in room_messages("layout")]
    assert [row[:3] for row in stored] == [
        (alpha, seoul(2015, 7, 9, 20, 34), "TEXT"),
        (OWNER_NAME, seoul(2015, 7, 9, 20, 35), "TEXT"),
        (bravo, seoul(2015, 7, 9, 20, 36), "PHOTO"),
        (alpha, seoul(2015, 7, 9, 23, 50), "SYSTEM"),  # alpha invited charlie
        (charlie, seoul(2015, 7, 10, 0, 5), "EMOTICON"),
        (charlie, seoul(2015, 7, 10, 0, 30), "FILE"),
        (bravo, seoul(2015, 7, 10, 1, 0), "SYSTEM"),  # bravo left
        (OWNER_NAME, seoul(2015, 7, 10, 12, 0), "TEXT"),
    ]
    assert [stored[i][3] for i in (0, 1, 7, 5)] == [hello, owner_text, noon, file_body]
    assert memberships_of("layout") == {
        alpha: [(seoul(2015, 7, 9, 20, 34), None)],
        OWNER_NAME: [(seoul(2015, 7, 9, 20, 35), None)],
        bravo: [(seoul(2015, 7, 9, 20, 36), seoul(2015, 7, 10, 1, 0, 1))],
        charlie: [(seoul(2015, 7, 9, 23, 50), None)],
    }
    room = Room.objects.get(external_id="layout")
    assert room.title == ("Fixture Room" if language == "en" else "가상방")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["android_en_old.txt", "ios_ko_old.txt", "mobile_ymd_ko.txt"])
def test_self_label_without_me_is_refused_naming_the_option_and_nothing_is_written(name):
    with pytest.raises(CommandError, match=r"line (6|7): '(You|나|회원님)' is how KakaoTalk labels .* --me ACCOUNT"):
        run(FIXTURES / name, "--room", "no-owner")
    assert not Room.objects.exists()
    assert not Account.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_self_label_in_a_system_line_is_the_owner_too(tmp_path):
    text = (
        "2015년 7월 9일 오후 8:30, 회원님이 가상갑님을 초대했습니다.\n"
        "2015년 7월 9일 오후 8:31, 가상갑 : 초대 감사합니다\n"
        "2015년 7월 9일 오후 8:32, 가상갑님이 나갔습니다.\n"
    )
    with pytest.raises(ImportFailed, match="line 1: '회원님'"):
        import_chat(text, room_external_id="sys")
    owner = AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    summary = import_chat(text, room_external_id="sys", me=OWNER_UID)
    assert (summary.messages, summary.owner_lines, summary.errors) == (3, 1, [])
    invite = room_messages("sys").first()
    assert (invite.kind, invite.sender) == ("SYSTEM", owner)
    assert memberships_of("sys")[OWNER_NAME] == [(seoul(2015, 7, 9, 20, 30), None)]


@pytest.mark.django_db
def test_every_spelling_of_the_self_label_is_the_one_owner_account():
    text = (
        "July 9, 2015, 8:30 PM, You : one\n"
        "July 9, 2015, 8:31 PM, you : two\n"
        "July 9, 2015, 8:32 PM, YOU : three\n"
        "July 9, 2015, 8:33 PM, Alpha Fixture : four\n"
    )
    owner = AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    summary = import_chat(text, room_external_id="spellings", me=OWNER_UID)
    assert (summary.messages, summary.owner_lines, summary.senders) == (4, 3, 2)
    assert room_messages("spellings").filter(sender=owner).count() == 3
    assert Account.objects.count() == 2


@pytest.mark.django_db
def test_me_must_name_an_existing_account_and_agree_with_the_mapping(tmp_path):
    with pytest.raises(CommandError, match="the account given with --me does not exist: nobody"):
        run(FIXTURES / "android_en_old.txt", "--room", "me", "--me", "nobody")
    AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    AccountFactory(uid="acct-other", display_name="Other")
    mapping = tmp_path / "names.csv"
    mapping.write_text("You,acct-other\n", encoding="utf-8")
    with pytest.raises(CommandError, match="gives the owner's label 'You' another account than --me acct-owner"):
        run(FIXTURES / "android_en_old.txt", "--room", "me", "--me", OWNER_UID, "--map", mapping)
    assert not Room.objects.exists()
    # The mapping alone may name the owner.
    summary, _ = run_json(FIXTURES / "android_en_old.txt", "me", "--map", mapping)
    assert summary["messages"] == 8
    assert room_messages("me").filter(sender__uid="acct-other").count() == 2


@pytest.mark.django_db
def test_human_summary_counts_the_owners_lines():
    AccountFactory(uid=OWNER_UID, display_name=OWNER_NAME)
    out, _ = run(FIXTURES / "ios_ko_old.txt", "--room", "owner-lines", "--me", OWNER_UID)
    assert "ios_ko_old.txt: ios_ko → room owner-lines (new)" in out
    assert f"device owner's lines (→ {OWNER_UID}): 2" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("8:34pm, July 9, 2015, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("8:34 PM, July 9, 2015, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("8:34 p.m., July 9, 2015, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("8:34 P.M., Jul. 9, 2015, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("12:10 a.m., July 9, 2015, Alpha : x", seoul(2015, 7, 9, 0, 10)),
        ("12:10pm, Sept 9, 2015, Alpha : x", seoul(2015, 9, 9, 12, 10)),
        ("July 9, 2015, 8:34 pm, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("Jul 9, 2015 at 8:34 PM, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("Jul 16, 2020 22:23, Alpha : x", seoul(2020, 7, 16, 22, 23)),
        ("9 July 2015 20:34, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("9 Jul 2015, 8:34 pm, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("2015/07/09 20:34, Alpha : x", seoul(2015, 7, 9, 20, 34)),
        ("2015-07-09 20:34:56, Alpha : x", seoul(2015, 7, 9, 20, 34, 56)),
        ("2019-03-30 오전 4:39, 가상 : x", seoul(2019, 3, 30, 4, 39)),
        ("2015. 7. 9. 20:34, 가상 : x", seoul(2015, 7, 9, 20, 34)),
        ("2015.7.9. 오후 8:34, 가상 : x", seoul(2015, 7, 9, 20, 34)),
        ("2015년 7월 9일 오후 8:34, 가상 : x", seoul(2015, 7, 9, 20, 34)),
        ("2015년 7월 9일 새벽 2:10, 가상 : x", seoul(2015, 7, 9, 2, 10)),
        ("2015년 7월 9일 아침 7:10, 가상 : x", seoul(2015, 7, 9, 7, 10)),
        ("2015년 7월 9일 낮 12:30, 가상 : x", seoul(2015, 7, 9, 12, 30)),
        ("2015년 7월 9일 낮 2:30, 가상 : x", seoul(2015, 7, 9, 14, 30)),
        ("2015년 7월 9일 저녁 7:00, 가상 : x", seoul(2015, 7, 9, 19, 0)),
        ("2015년 7월 9일 밤 11:30, 가상 : x", seoul(2015, 7, 9, 23, 30)),
        ("2015년 7월 9일 밤 12:10, 가상 : x", seoul(2015, 7, 9, 0, 10)),
    ],
)
def test_clocks_and_day_periods_in_every_spelling(line, expected):
    [message] = messages_of(line + "\n")
    assert (message.sent_at, message.sender.strip(), message.body) == (expected, message.sender, "x")


def test_title_after_the_iphone_file_name_and_the_save_date():
    lines = ["Talk_2015.8.3 01:01-1.txt", "저장한 날짜 : 2015. 8. 3. 오전 1:01", "가상방 님과 카카오톡 대화", ""]
    assert kakao.read_title(lines) == "가상방"
    assert kakao.read_title(["Talk_2015.8.3 01:01-1.txt", "", "2015. 7. 9. 오후 8:34, 가상 : x"]) is None
    assert kakao.read_title(["Date Saved : 1:01am, August 3, 2015", "KakaoTalk Chats with Fixture Room"]) == (
        "Fixture Room"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Dear Sir,\nplease find the warrant attached.\n",
        "Date Saved : 1:01am, August 3, 2015\n\nJuly 9, 2015 was a Thursday.\nWe met at 8:34pm.\n",
        "저장한 날짜 : 2015년 8월 3일 오전 1:01\n\n2015년 7월 9일 목요일\n그날 오후 8:34에 만났다\n",
        "Thursday, July 9, 2015\n9 July 2015\nMeeting: 20:34\n",
        "8:34pm July 9 2015 Alpha says hi\n",
    ],
)
def test_text_with_dates_but_no_message_line_is_still_refused(text):
    with pytest.raises(kakao.UnknownFormat, match="not a KakaoTalk export"):
        kakao.detect_format(kakao.split_lines(text))


def test_unreadable_lines_of_an_older_layout_are_reported_by_number():
    text = (
        "KakaoTalk Chats with Fixture Room\n"
        "Date Saved : 1:01am, August 3, 2015\n"
        "stray text before any message\n"
        "8:34pm, July 9, 2015, Alpha : fine\n"
        "8:35pm, February 30, 2015, Alpha : no such day\n"
        "its continuation\n"
        "13:35pm, July 9, 2015, Alpha : no such hour\n"
        "8:36pm, July 9, 2015, Alpha : fine again\n"
    )
    assert [(e.line_no, e.reason) for e in errors_of(text)] == [
        (3, "unreadable: not a message, and no message before it to continue"),
        (5, "cannot read the date 'February 30, 2015'"),
        (7, "cannot read the time '13:35pm'"),
    ]
    assert [m.body for m in messages_of(text)] == ["fine", "fine again"]


def test_pc_export_with_a_24_hour_clock_and_dotted_am_pm():
    text = (
        "--------------- 2015년 7월 9일 목요일 ---------------\n"
        "[가상갑] [20:34] 스물네 시간\n"
        "--------------- Friday, July 10, 2015 ---------------\n"
        "[Alpha] [8:34 a.m.] dotted\n"
    )
    assert kakao.detect_format(kakao.split_lines(text)) == "pc_ko"
    assert [m.sent_at for m in messages_of(text)] == [seoul(2015, 7, 9, 20, 34), seoul(2015, 7, 10, 8, 34)]


def test_name_and_text_split_at_a_colon_with_spaces_on_one_side_only():
    text = (
        "2015/07/09 20:34, Alpha: no space before\n"
        "2015/07/09 20:35, Bravo :no space after\n"
        "2015/07/09 20:36, Charlie  :  several\n"
        "2015/07/09 20:37, 12:30 is not a name\n"
    )
    said = [(r.sender, r.body, r.kind) for r in records(text)]
    assert said[:3] == [
        ("Alpha", "no space before", Kind.TEXT),
        ("Bravo", "no space after", Kind.TEXT),
        ("Charlie", " several", Kind.TEXT),
    ]
    assert said[3] == (None, "12:30 is not a name", Kind.SYSTEM)  # names no one: not stored, reported


def test_removed_without_an_actor_in_english():
    event = kakao.system_event("Bravo Fixture has been removed from this chatroom.")
    assert (event.action, event.subjects, event.actor, event.account_name) == (
        Action.REMOVE,
        ("Bravo Fixture",),
        None,
        "Bravo Fixture",
    )


def test_a_quoted_pc_line_inside_an_english_mobile_message_does_not_flip_the_format():
    text = (
        "July 9, 2015, 8:34 PM, Alpha Fixture : quoting the desktop app:\n"
        "[Bravo Fixture] [8:30 PM] see you at nine\n"
        "--------------- Thursday, July 9, 2015 ---------------\n"
    )
    assert kakao.detect_format(kakao.split_lines(text)) == "android_en"
    [message] = messages_of(text)
    assert message.body.splitlines()[1] == "[Bravo Fixture] [8:30 PM] see you at nine"


def test_csv_rows_with_another_date_spelling_or_no_date_and_sender():
    text = (
        "Date,User,Message\n"
        '2015. 7. 9. 오후 8:34,"가상갑","점 찍힌 날짜"\n'
        '"Jul 9, 2015 at 8:35 PM","Alpha","English stamp"\n'
        ",,The message has been deleted.\n"
    )
    assert [(m.sender, m.sent_at) for m in messages_of(text, fmt="csv")] == [
        ("가상갑", seoul(2015, 7, 9, 20, 34)),
        ("Alpha", seoul(2015, 7, 9, 20, 35)),
    ]
    [error] = errors_of(text, fmt="csv")
    assert (error.line_no, error.reason) == (
        4,
        "a row with no date and no sender, not stored: The message has been deleted.",
    )
