"""`manage.py import_accounts`: the operator's account directory loaded from CSV or JSON lines."""

import io
import json
import unicodedata

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from disclosure import account_import
from disclosure.models import Account
from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditAction, AuditEntry

KOREAN_CSV = (
    "uid,display_name,phone,email,locale\r\n"
    "u-kim,김지훈,010-1111-2222,Jihoon@Example.KR,ko\r\n"
    'u-walker,"Walker, Alice",+44 20 7946 0018,alice@example.com,en-GB\r\n'
    "u-lee,이도윤,,,\r\n"
)


def run(path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_accounts", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name: str, text: str, *, encoding: str = "utf-8") -> object:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def directory() -> dict[str, tuple]:
    return {
        a.uid: (a.display_name, a.phone, a.phone_normalized, a.email, a.email_normalized, a.locale, a.postal_address)
        for a in Account.objects.all()
    }


def test_a_csv_with_a_bom_and_korean_names_is_loaded_with_its_matching_columns(db, tmp_path):
    path = write(tmp_path, "accounts.csv", KOREAN_CSV, encoding="utf-8-sig")

    out, err = run(path)

    assert err == ""
    assert "created: 3" in out
    assert directory() == {
        "u-kim": ("김지훈", "010-1111-2222", "+821011112222", "Jihoon@Example.KR", "jihoon@example.kr", "ko", ""),
        "u-walker": (
            "Walker, Alice",
            "+44 20 7946 0018",
            "+442079460018",
            "alice@example.com",
            "alice@example.com",
            "en",
            "",
        ),
        "u-lee": ("이도윤", "", "", "", "", "ko", ""),
    }
    entry = AuditEntry.objects.get(action=AuditAction.REGISTRY_CHANGED)
    assert entry.details["op"] == "accounts_import" and entry.details["created"] == 3
    assert entry.actor_label.startswith("cli:")
    for identifier in ("김지훈", "u-kim", "Jihoon", "010-1111-2222"):
        assert identifier not in json.dumps(entry.details, ensure_ascii=False)
    assert verify_chain().ok


def test_a_cp949_file_and_a_decomposed_hangul_name_are_read_as_korean(db, tmp_path):
    decomposed = unicodedata.normalize("NFD", "박서연")
    csv_path = write(tmp_path, "euc.csv", "uid,name\r\nu-park,박서연\r\n", encoding="cp949")
    jsonl_path = write(tmp_path, "mac.jsonl", json.dumps({"uid": "u-nfd", "display_name": decomposed}) + "\n")

    out, _err = run(csv_path)
    run(jsonl_path)

    assert "cp949" in out
    assert Account.objects.get(uid="u-park").display_name == "박서연"
    assert Account.objects.get(uid="u-nfd").display_name == "박서연"  # stored composed (NFC)


def test_json_lines_are_told_by_extension_or_by_content(db, tmp_path):
    lines = "\n".join(
        json.dumps(row, ensure_ascii=False)
        for row in (
            {"uid": "u-1", "display_name": "최하은", "phone": "01033334444", "locale": "ko"},
            {"uid": "u-2", "name": "Brian Moss", "e-mail": "brian@example.com", "language": "English"},
        )
    )
    by_content = write(tmp_path, "directory-export.txt", "\n" + lines + "\n\n")

    out, _err = run(by_content, "--json")

    summary = json.loads(out)
    assert summary["format"] == "jsonl" and summary["created"] == 2 and summary["loaded"] is True
    assert Account.objects.get(uid="u-2").locale == "en"
    assert Account.objects.get(uid="u-1").phone_normalized == "+821033334444"


def test_loading_again_changes_nothing_and_a_changed_row_is_updated_in_place(db, tmp_path):
    path = write(tmp_path, "accounts.csv", KOREAN_CSV)
    run(path)
    before = directory()
    pks = dict(Account.objects.values_list("uid", "pk"))

    again, _err = run(path, "--json")
    changed = KOREAN_CSV.replace("010-1111-2222,Jihoon@Example.KR", "010-9999-8888,")
    second, _err = run(write(tmp_path, "changed.csv", changed), "--json")

    assert json.loads(again) | {"errors": []} == json.loads(again)
    assert (json.loads(again)["created"], json.loads(again)["updated"], json.loads(again)["unchanged"]) == (0, 0, 3)
    assert (json.loads(second)["created"], json.loads(second)["updated"], json.loads(second)["unchanged"]) == (0, 1, 2)
    assert Account.objects.count() == 3 and dict(Account.objects.values_list("uid", "pk")) == pks
    kim = Account.objects.get(uid="u-kim")
    assert (kim.phone, kim.phone_normalized, kim.email, kim.email_normalized) == (
        "010-9999-8888",
        "+821099998888",
        "",
        "",
    )
    assert {uid: row for uid, row in directory().items() if uid != "u-kim"} == {
        uid: row for uid, row in before.items() if uid != "u-kim"
    }


def test_a_column_the_file_does_not_have_keeps_the_stored_value(db, tmp_path):
    run(write(tmp_path, "full.csv", KOREAN_CSV))
    Account.objects.filter(uid="u-lee").update(postal_address="서울특별시 종로구 세종대로 1")

    run(write(tmp_path, "names.jsonl", '{"uid": "u-kim", "display_name": "김지훈 (Jihoon)"}\n'))
    run(write(tmp_path, "names.csv", "uid,display_name\r\nu-lee,이도윤\r\n"))

    kim, lee = Account.objects.get(uid="u-kim"), Account.objects.get(uid="u-lee")
    assert kim.display_name == "김지훈 (Jihoon)" and kim.email == "Jihoon@Example.KR" and kim.phone == "010-1111-2222"
    assert lee.postal_address == "서울특별시 종로구 세종대로 1"


BAD_ROWS = (
    "uid,display_name,phone,email,locale\r\n"
    "u-ok,김민준,010-1234-5678,minjun@example.kr,ko\r\n"  # line 2: good
    "u-noname,,010-2222-3333,,ko\r\n"  # 3
    "u-phone,정수아,call me,,ko\r\n"  # 4
    "u-mail,강예린,,yerin@@example,ko\r\n"  # 5
    "u-lang,윤서준,,,fr\r\n"  # 6
    "u-bidi,Eve\u202egnp.exe,,,en\r\n"  # 7
    "u-ok,김민준 again,,,ko\r\n"  # 8: the uid of line 2
    "u-short,only two\r\n"  # 9
    "u space,조하린,,,ko\r\n"  # 10
    ",조하린,,,ko\r\n"  # 11
    '"u-multi","이\r\n름",,,ko\r\n'  # 12-13: a quoted line break, then the good row below
    "u-good,한지민,,,ko\r\n"  # 14
)


def test_bad_rows_are_listed_by_line_and_nothing_is_loaded(db, tmp_path):
    Account.objects.create(uid="u-good", display_name="old name", **Account.normalized_fields())
    path = write(tmp_path, "bad.csv", BAD_ROWS)

    with pytest.raises(CommandError, match=r"10 bad rows: nothing was loaded.*--skip-bad to load the 2 good rows"):
        run(path)

    assert list(Account.objects.values_list("uid", "display_name")) == [("u-good", "old name")]
    assert not AuditEntry.objects.exists()


def test_the_bad_rows_report_gives_line_and_reason_but_no_value(db, tmp_path):
    path = write(tmp_path, "bad.csv", BAD_ROWS)
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_accounts", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "line 3: display_name: missing",
        "line 4: phone: not a phone number",
        "line 5: email: not a valid e-mail address",
        "line 6: locale: unknown language (ko or en)",
        "line 7: display_name: contains control or invisible formatting characters",
        "line 8: uid: already given on line 2",
        "line 9: 2 fields where the header has 5",
        "line 10: uid: contains spaces",
        "line 11: uid: missing",
        "line 12: display_name: contains control or invisible formatting characters",
    ]
    for value in ("정수아", "call me", "yerin", "gnp.exe", "김민준", "조하린"):
        assert value not in err.getvalue()


def test_skip_bad_loads_the_good_rows_explicitly(db, tmp_path):
    path = write(tmp_path, "bad.csv", BAD_ROWS)

    out, err = run(path, "--skip-bad", "--json")

    summary = json.loads(out)
    assert (summary["created"], summary["bad"], summary["rows"], summary["loaded"]) == (2, 10, 12, True)
    assert [error["line"] for error in summary["errors"]] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert sorted(Account.objects.values_list("uid", flat=True)) == ["u-good", "u-ok"]
    assert Account.objects.get(uid="u-ok").display_name == "김민준"  # the first of the two rows
    assert AuditEntry.objects.get(action=AuditAction.REGISTRY_CHANGED).details["bad_rows_skipped"] == 10
    assert "line 3: display_name: missing" in err


def test_bad_json_lines_are_reported_by_line(db, tmp_path):
    text = "\n".join(
        [
            '{"uid": "u-a", "display_name": "A Person"}',
            '{"uid": "u-b", "display_name": ',
            '["u-c", "C"]',
            '{"uid": "u-d", "display_name": {"first": "D"}}',
            '{"uid": "u-e", "display_name": "E", "favourite": "tea"}',
            '{"uid": "u-f", "display_name": "F", "phone": null}',
        ]
    )

    _out, err = run(write(tmp_path, "people.jsonl", text), "--skip-bad", "--json")

    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["line 2", "line 3", "line 4", "line 5"]
    assert "not a JSON object" in lines[0] and "one object per line" in lines[1]
    assert lines[2] == "line 4: display_name: a text value is expected"
    assert "unknown column 'favourite'" in lines[3]
    assert sorted(Account.objects.values_list("uid", flat=True)) == ["u-a", "u-f"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("uid,name,emial\r\nu-1,A,a@example.com\r\n", "unknown column 'emial'"),
        ("uid,phone\r\nu-1,010-1111-2222\r\n", "the column 'display_name' is missing"),
        ("uid,name,display_name\r\nu-1,A,B\r\n", "column 'display_name' given twice"),
    ],
)
def test_a_file_that_is_no_directory_is_refused_whole(db, tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path, "x.csv", text))

    assert not Account.objects.exists()


def test_a_failure_while_loading_leaves_the_directory_as_it_was(db, tmp_path, monkeypatch):
    Account.objects.create(uid="u-kim", display_name="old", **Account.normalized_fields())
    monkeypatch.setattr(account_import, "BATCH", 1)
    real_insert, calls = account_import._insert, []

    def failing_insert(rows, now):
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real_insert(rows, now)

    monkeypatch.setattr(account_import, "_insert", failing_insert)

    with pytest.raises(RuntimeError, match="disk full"):
        run(write(tmp_path, "accounts.csv", KOREAN_CSV))

    assert list(Account.objects.values_list("uid", "display_name")) == [("u-kim", "old")]
    assert not AuditEntry.objects.exists()


def test_a_dry_run_counts_and_writes_nothing(db, tmp_path):
    out, _err = run(write(tmp_path, "accounts.csv", KOREAN_CSV), "--dry-run")

    assert "(dry run)" in out and "created: would be 3" in out
    assert not Account.objects.exists() and not AuditEntry.objects.exists()


def test_a_progress_bar_follows_a_large_load(db, tmp_path):
    rows = "".join(f"acct-{n:06d},이름{n},010-{n // 10000:04d}-{n % 10000:04d},,ko\r\n" for n in range(20_000))
    path = write(tmp_path, "big.csv", "uid,display_name,phone,email,locale\r\n" + rows)

    out, err = run(path, "--progress")

    assert "created: 20000" in out
    assert "[##############################] 100% 20,000/20,000 rows" in err
    assert Account.objects.count() == 20_000
    assert Account.objects.get(uid="acct-012345").phone_normalized == "+821000012345"


def test_the_readme_documents_the_command():
    from pathlib import Path

    from django.conf import settings

    readme = Path(settings.BASE_DIR, "README.md").read_text()
    other_commands = readme.split("### Other commands")[1].split("\n## ")[0]
    assert "manage.py import_accounts accounts.csv" in other_commands and "--skip-bad" in other_commands
