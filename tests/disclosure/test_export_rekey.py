"""An export running while the hourly purge re-keys days of its period (bodies.rekey_day) still reads
every row: rows re-sealed under a generation made after the export read its keys are opened with the
day's new key (bodies.reopen), in place and in the reader process alike."""

import datetime as dt
import io
import zipfile

import pytest

from disclosure import bodies
from disclosure.exports import package as exports
from disclosure.exports import reader
from disclosure.models import Message
from disclosure.scope import warrant_scope
from disclosure.sealing import Pending, RowOpener, Sealed
from warrantdesk import keystore


def package_data(path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in ("conversations.json", "messages.csv")}


def build(warrant, tmp_path, name):
    built = exports.build_package(warrant_scope(warrant), out_dir=tmp_path / name)
    return package_data(built.path), built.counts


def scope_days(warrant) -> list:
    stamps = Message.objects.filter(warrant_scope(warrant).message_filter()).values_list("sent_at", flat=True)
    return sorted({bodies.day_of(stamp) for stamp in stamps})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reader_min", [10**9, 0], ids=["in-place", "reader-process"])
def test_an_export_reads_days_the_purge_rekeys_while_it_starts(
    approved_warrant, tmp_path, settings, monkeypatch, reader_min
):
    """The purge re-keys every day of the scope right after the export read its keys (the old keys are
    destroyed): the package is still complete, byte for byte the package of an undisturbed export."""
    settings.WARRANTDESK_EXPORT_READER_MIN_MESSAGES = reader_min
    used = []
    real_read_ahead = reader.read_ahead
    monkeypatch.setattr(reader, "read_ahead", lambda *a, **k: used.append(1) or real_read_ahead(*a, **k))
    undisturbed, counts = build(approved_warrant, tmp_path, "undisturbed")
    days = scope_days(approved_warrant)
    before = {day: bodies.current_generation(day) for day in days}

    real_row_opener = bodies.row_opener

    def row_opener_then_rekey(start, end):
        opener = real_row_opener(start, end)
        for day in days:  # the hourly purge, between the export's keys and its read
            bodies.rekey_day(day)
        return opener

    monkeypatch.setattr(bodies, "row_opener", row_opener_then_rekey)
    disturbed, disturbed_counts = build(approved_warrant, tmp_path, "disturbed")

    assert bool(used) == (reader_min == 0)
    assert all(bodies.current_generation(day) == before[day] + 1 for day in days)
    assert all(keystore.destroyed_at(bodies.key_name(day, before[day])) for day in days)
    assert disturbed_counts == counts and counts["messages"] > 0
    assert disturbed == undisturbed


def rows_of(pks) -> list[tuple]:
    return list(
        Message.objects.filter(pk__in=pks)
        .order_by("pk")
        .values_list("pk", "room_id", "sender_id", "sent_at", "kind", "sealed_body", "key_generation")
    )


@pytest.mark.django_db(transaction=True)
def test_a_row_rekeyed_twice_is_read_again_and_a_row_purged_meanwhile_is_left_out(store):
    """Rows read under generation 1; the day is re-keyed twice (generations 1 and 2 destroyed) and one of
    its rows deleted before they are opened: reopen reads the others again under generation 3."""
    first = Message.objects.order_by("sent_at", "pk").first()
    day = bodies.day_of(first.sent_at)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)  # the UTC day the key seals
    on_day = Message.objects.filter(sent_at__gte=start, sent_at__lt=start + dt.timedelta(days=1)).order_by("pk")
    texts = {message.pk: message.body for message in on_day}
    assert len(texts) >= 2
    rows = rows_of(texts)
    generation = rows[0][-1]
    bodies.rekey_day(day)
    bodies.rekey_day(day)
    gone = rows[-1][0]
    Message.objects.filter(pk=gone).delete()

    opened = RowOpener({})(rows)  # an opener that read no key of the day (as one read before the re-keys)
    assert isinstance(opened, Pending) and len(opened.pending) == len(rows)
    assert all(isinstance(row[5], Sealed) for row in opened)
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get(bodies.key_name(day, generation))

    result = bodies.reopen(opened, RowOpener({}))

    assert [(pk, text) for pk, *_middle, text in result] == [(pk, texts[pk]) for pk in sorted(texts) if pk != gone]


def test_a_batch_with_every_key_comes_back_as_a_plain_list(store):
    message = Message.objects.order_by("pk").first()
    day = bodies.day_of(message.sent_at)
    start = message.sent_at
    opened = bodies.row_opener(start, start)(rows_of([message.pk]))

    assert type(opened) is list
    assert opened[0][5] == message.body
    assert bodies.reopen(opened, RowOpener({})) is opened
    assert bodies.current_generation(day) == rows_of([message.pk])[0][-1]
