"""The PDF report, read back as a reader sees it: pypdf extracts the text of every page."""

import io
import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from disclosure.exports.fonts import legible
from disclosure.exports.pdf import ReportCover, ReportMessage, render_volume, render_volumes

TOKEN_7 = "p1.ab12cd34.gezdgnbvgy3tqojqgezdgnbvgy3tqojqgezdgnbv"
TOKEN_8 = "p1.ab12cd34.mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dz"
ALIAS_OF = {TOKEN_7: "Participant 7", TOKEN_8: "Participant 8"}
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 09:00 in Seoul


def make_cover(**changes) -> ReportCover:
    fields = {
        "reference": "WD-2026-000123",
        "agency": "Seoul Metropolitan Police Agency",
        "warrant_number": "2026-GO-4711",
        "court": "Seoul Central District Court",
        "legal_basis": "Protection of Communications Secrets Act",
        "period_start": START,
        "period_end": START + timedelta(days=30),
        "generated_at": datetime(2026, 4, 2, 1, 30, tzinfo=UTC),
        "counts": {"rooms": 2, "messages": 1200, "targets": 1, "pseudonymised": 2},
        "targets": [("acct-000042", "Kim Minsu")],
        "aliases": [("Participant 7", TOKEN_7), ("Participant 8", TOKEN_8)],
        "language": "en",
    }
    return ReportCover(**{**fields, **changes})


def message(body: str, *, room: str = "Room 1 (group)", minutes: int = 0, sender: str = "Kim Minsu", kind="TEXT"):
    return ReportMessage(room=room, sent_at=START + timedelta(minutes=minutes), sender=sender, kind=kind, body=body)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


def font_names(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return names


class TestTheCover:
    def test_shows_the_warrant_the_agency_and_the_period_in_seoul_time(self):
        text = pdf_text(render_volume(make_cover(), [], alias_of=ALIAS_OF))

        assert "Conversation disclosure report" in text
        assert "WD-2026-000123" in text
        assert "Seoul Metropolitan Police Agency" in text
        assert "2026-GO-4711" in text
        assert "Seoul Central District Court" in text
        assert "Protection of Communications Secrets Act" in text
        assert "2026-03-01 09:00:00 – 2026-03-31 09:00:00" in text
        assert "2026-04-02 10:30:00" in text
        assert "Asia/Seoul (UTC+09:00)" in text

    def test_shows_the_counts_the_targets_in_clear_and_the_alias_table(self):
        text = pdf_text(render_volume(make_cover(), [], alias_of=ALIAS_OF))

        assert "Messages 1,200" in text
        assert "Rooms 2" in text
        assert "Pseudonymised people (all) 2" in text
        assert "Kim Minsu acct-000042" in text
        assert f"Participant 7 {TOKEN_7}" in text
        assert f"Participant 8 {TOKEN_8}" in text

    def test_speaks_korean_when_asked(self):
        text = pdf_text(render_volume(make_cover(language="ko", volume=2, volumes=3), [], alias_of=ALIAS_OF))

        assert "대화 내용 제공 보고서" in text
        assert "전 3권 중 제2권" in text
        assert "요청 기관" in text
        assert "가명 대조표" in text

    def test_an_empty_export_still_has_its_cover(self):
        pages = pdf_pages(render_volume(make_cover(counts={"messages": 0}), [], alias_of={}))

        assert "WD-2026-000123" in pages[0]
        assert "Volume 1 of 1" in pages[0]
        assert "No messages in scope." in pages[-1]


class TestTheMessages:
    def test_follow_the_cover_grouped_by_room_each_line_with_time_sender_and_text(self):
        messages = [
            message("first in room one", minutes=1),
            message("second in room one", minutes=2, sender="Participant 7"),
            message("only in room two", room="Room 2 (direct)", minutes=3),
        ]

        pages = pdf_pages(render_volume(make_cover(), messages, alias_of=ALIAS_OF))

        assert "first in room one" not in pages[0]
        text = "\n".join(pages[1:])
        assert text.index("Room 1 (group)") < text.index("first in room one") < text.index("second in room one")
        assert text.index("second in room one") < text.index("Room 2 (direct)") < text.index("only in room two")
        assert "2026-03-01 (Sun)" in text
        assert "09:01:00 Kim Minsu: first in room one" in " ".join(text.split())
        assert "09:02:00 Participant 7: second in room one" in " ".join(text.split())

    def test_placeholders_become_aliases_and_an_unknown_token_stays(self):
        messages = [message(f"call [[{TOKEN_7}]] and [[{TOKEN_8}]], not [[p1.ffffffff.unknown]]")]

        text = pdf_text(render_volume(make_cover(), messages, alias_of=ALIAS_OF))

        assert "call Participant 7 and Participant 8, not [[p1.ffffffff.unknown]]" in text
        assert f"[[{TOKEN_7}]]" not in text

    def test_html_in_a_message_is_shown_literally(self):
        messages = [message("<b>x</b> & <script>alert(1)</script>"), message("</p><h1>fake heading</h1>")]

        text = pdf_text(render_volume(make_cover(), messages, alias_of=ALIAS_OF))

        assert "<b>x</b> & <script>alert(1)</script>" in text
        assert "</p><h1>fake heading</h1>" in text

    def test_korean_text_is_embedded_in_nanum_gothic_and_extracts_again(self):
        messages = [message("내일 오전까지 가능할까요? OK", sender="김민수"), message("사진", kind="PHOTO")]

        data = render_volume(make_cover(language="ko"), messages, alias_of=ALIAS_OF)

        text = pdf_text(data)
        assert "김민수: 내일 오전까지 가능할까요? OK" in text
        assert "[사진] 사진" in text
        assert "NanumGothic" in font_names(data)

    def test_a_character_without_a_glyph_is_named_not_drawn_as_a_box(self):
        messages = [message("생일 축하해!! 🎂 ctrl\x07 end")]

        text = pdf_text(render_volume(make_cover(), messages, alias_of=ALIAS_OF))

        assert "생일 축하해!! [U+1F382 BIRTHDAY CAKE] ctrl[U+0007] end" in text

    def test_line_breaks_inside_a_message_are_kept(self):
        text = pdf_text(render_volume(make_cover(), [message("line one\nline two")], alias_of=ALIAS_OF))

        assert "line one\nline two" in text

    def test_pages_carry_the_reference_the_volume_and_page_numbers(self):
        messages = [message(f"message number {index}", minutes=index) for index in range(120)]

        pages = pdf_pages(render_volume(make_cover(volume=2, volumes=5), messages, alias_of=ALIAS_OF))

        assert len(pages) > 2
        for number, page in enumerate(pages, start=1):
            assert "WD-2026-000123" in page
            assert "Volume 2 of 5" in page
            assert f"Page {number} of {len(pages)}" in page


class TestVolumes:
    def test_twelve_messages_five_per_volume_make_three_volumes_rendered_in_parallel(self, tmp_path):
        messages = (message(f"message number {index:02d}", minutes=index) for index in range(12))

        paths = render_volumes(
            make_cover(counts={"messages": 12}),
            messages,
            alias_of=ALIAS_OF,
            per_volume=5,
            processes=2,
            out_dir=tmp_path,
        )

        assert [path.name for path in paths] == ["report-001.pdf", "report-002.pdf", "report-003.pdf"]
        for volume, (path, numbers) in enumerate(zip(paths, [range(5), range(5, 10), range(10, 12)]), start=1):
            text = pdf_text(path.read_bytes())
            assert f"Volume {volume} of 3" in text
            assert [index for index in range(12) if f"message number {index:02d}" in text] == list(numbers)
            assert f"holds messages {numbers[0] + 1}–{numbers[-1] + 1}." in text

    def test_a_volume_that_fails_in_its_process_is_raised_and_no_process_is_left(self, tmp_path):
        messages = [message(f"message {index}", minutes=index) for index in range(9)]
        messages[7] = ReportMessage(room="Room 1", sent_at="not a time", sender="Kim", kind="TEXT", body="broken")

        with pytest.raises(RuntimeError, match=r"report-003\.pdf could not be rendered: AttributeError"):
            render_volumes(
                make_cover(counts={"messages": 9}),
                messages,
                alias_of=ALIAS_OF,
                per_volume=3,
                processes=2,
                out_dir=tmp_path,
            )

        assert not [p for p in multiprocessing.active_children() if p.name.startswith("warrantdesk-pdf-")]
        assert not (tmp_path / "report-003.pdf").exists()

    def test_a_single_volume_is_report_pdf(self, tmp_path):
        paths = render_volumes(make_cover(), [message("hello")], alias_of=ALIAS_OF, out_dir=tmp_path)

        assert paths == [tmp_path / "report.pdf"]
        assert "Volume 1 of 1" in pdf_text(paths[0].read_bytes())

    def test_no_messages_make_one_volume_with_its_cover(self, tmp_path):
        paths = render_volumes(make_cover(counts={"messages": 0}), iter([]), alias_of={}, out_dir=tmp_path)

        assert paths == [tmp_path / "report.pdf"]
        assert "No messages in scope." in pdf_text(paths[0].read_bytes())

    @pytest.mark.parametrize("announced", [2, 4])
    def test_a_stream_longer_or_shorter_than_announced_is_an_error(self, tmp_path, announced):
        messages = (message(f"message {index}") for index in range(3))

        with pytest.raises(ValueError, match="announced"):
            render_volumes(
                make_cover(counts={"messages": announced}), messages, alias_of={}, per_volume=10, out_dir=tmp_path
            )


def test_legible_leaves_ordinary_text_alone():
    assert legible("안녕하세요 hello\tthere\n다음 줄 ❤ שלום") == "안녕하세요 hello\tthere\n다음 줄 ❤ שלום"
    assert legible("\x00") == "[U+0000]"
