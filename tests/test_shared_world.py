"""A world built once for a module (tests/conftest.py ``shared_world``) is, for each test, the world as built.

The tests below run in the order written: the first changes the database, a document and an object in
memory; the second finds none of it.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest

from requests_app.models import Warrant
from requests_app.services import current_warrant_document
from tests.conftest import PERSONAS, _is_transactional, make_agency, make_pdf_upload, make_warrant, shared_world


def _build_world() -> SimpleNamespace:
    world = SimpleNamespace(**{name: PERSONAS[name]() for name in ["legal_officer", "reviewer"]}, agency=make_agency())
    world.warrant = make_warrant(world.legal_officer, world.reviewer, world.agency, make_pdf_upload())
    world.document_on_disk = Path(current_warrant_document(world.warrant).file.path).read_bytes()
    return world


world = shared_world(_build_world)


def test_a_test_may_change_the_world(warrant, settings, tmp_path):
    document = current_warrant_document(warrant)
    assert Path(settings.MEDIA_ROOT).is_relative_to(tmp_path)  # the test's own copy of the world's files

    Warrant.objects.filter(pk=warrant.pk).update(notes="changed by the first test")
    warrant.notes = "changed in memory"
    Path(document.file.path).write_bytes(b"overwritten")
    (Path(settings.MEDIA_ROOT) / "left-behind.txt").write_text("by the first test")

    assert Warrant.objects.get(pk=warrant.pk).notes == "changed by the first test"


def test_the_next_test_finds_the_world_as_built(warrant, legal_officer, settings, world):
    document = current_warrant_document(warrant)

    assert warrant.notes == world.warrant.notes != "changed in memory"
    assert Warrant.objects.get(pk=warrant.pk).notes == world.warrant.notes
    assert warrant is not world.warrant and legal_officer.pk == world.legal_officer.pk
    assert Path(document.file.path).read_bytes() == world.document_on_disk
    assert not (Path(settings.MEDIA_ROOT) / "left-behind.txt").exists()
    assert Warrant.objects.count() == 1


def test_a_transactional_test_is_told_apart():
    """The shared world refuses a transactional test beside it (one would empty the database under it)."""
    marked = SimpleNamespace(
        fixturenames=["db"], get_closest_marker=lambda name: pytest.mark.django_db(transaction=True).mark
    )
    plain = SimpleNamespace(fixturenames=["db"], get_closest_marker=lambda name: pytest.mark.django_db.mark)
    by_fixture = SimpleNamespace(fixturenames=["transactional_db"], get_closest_marker=lambda name: None)

    assert [_is_transactional(item) for item in (marked, plain, by_fixture)] == [True, False, True]
