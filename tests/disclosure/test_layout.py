"""The package layout's reader (disclosure.exports.layout): streams conversations.json to its
participants block and says, without naming anyone, when a package is not laid out as written."""

import io
import json
import zipfile

import pytest

from disclosure.exports import layout

PARTICIPANTS = {
    "targets": [{"uid": "u-1", "name": 'Kim "the boss", 김', "messages": 2}],
    "pseudonymised": [{"token": "p1.ab.cd", "alias": "Participant 1", "messages": 12345}],
}


def conversations(messages: int = 3, **json_options) -> bytes:
    decoy = '],"participants":{"targets":[{"uid":"fake"}]}} 😀 \\ "'  # a message that looks like the block
    document = {
        "format": layout.FORMAT,
        "warrant": "W-1",
        "period": {"start": "2025-01-01T00:00:00+00:00", "end": "2025-02-01T00:00:00+00:00"},
        "rooms": [
            {"room": "room-1", "kind": "GROUP", "title": decoy, "covered": [], "messages": []},
            {
                "room": "room-2",
                "kind": "DIRECT",
                "title": "",
                "covered": [],
                "messages": [{"id": i, "sender": {"type": "pseudonym"}, "text": decoy * 3} for i in range(messages)],
            },
        ],
        "participants": PARTICIPANTS,
    }
    return json.dumps(document, ensure_ascii=False, **json_options).encode()


def package(data: bytes | None, name: str = layout.CONVERSATIONS) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if data is not None:
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("options", [{"separators": (",", ":")}, {"indent": 2}])
def test_the_participants_block_is_found_past_decoys_in_any_spacing(options):
    assert layout.read_participants(package(conversations(**options))) == PARTICIPANTS


def test_it_streams_in_small_chunks_across_values(monkeypatch):
    monkeypatch.setattr(layout, "_CHUNK", 5)  # every value, number and character split across reads
    assert layout.read_participants(package(conversations(messages=20))) == PARTICIPANTS


@pytest.mark.parametrize(
    "data",
    [
        conversations()[:-7],  # cut short
        b'{"format":"warrantdesk-export/9","rooms":[]}',  # another format
        b'{"format":"warrantdesk-export/1","rooms":[]}',  # no block
        b'{"format":"warrantdesk-export/1","participants":{"targets":[]}}',  # half a block
        b"[]",
        b"",
        b"\xff\xfe",
    ],
)
def test_a_conversations_file_not_laid_out_as_written_is_refused(data):
    with pytest.raises(layout.PackageUnreadable):
        layout.read_participants(package(data))


def test_a_package_without_conversations_or_not_a_zip_is_refused(tmp_path):
    with pytest.raises(layout.PackageUnreadable):
        layout.read_participants(package(b"{}", name="other.json"))
    with pytest.raises(layout.PackageUnreadable):
        layout.read_participants(io.BytesIO(b"not a zip"))
    with pytest.raises(layout.PackageUnreadable):
        layout.read_participants(tmp_path / "missing.zip")
