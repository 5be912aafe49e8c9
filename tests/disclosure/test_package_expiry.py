"""Package expiry: a delivered package's file goes WARRANTDESK_PACKAGE_DAYS after its first delivery;
the manifest and the hashes stay, the page says so, and a download answers 410, never a 500."""

import datetime as dt
import hashlib
from html import unescape

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone, translation

from disclosure import services, shredding
from disclosure.models import Export
from disclosure.packages import PackagePurged, package_bytes
from tests.helpers import client_for, run_export
from warrantdesk import periodic
from warrantdesk.models import AuditAction, AuditEntry, PeriodicJob


@pytest.fixture
def delivered_package(approved_warrant, legal_officer, settings):
    settings.WARRANTDESK_PACKAGE_DAYS = 30
    export = run_export(approved_warrant, legal_officer)
    assert export.status == Export.Status.READY, export.error
    services.export_record_delivery(
        export=export,
        actor=legal_officer,
        channel="IN_PERSON",
        recipient="Insp. Yoon",
        delivered_at=timezone.now() - dt.timedelta(days=31),
    )
    export.refresh_from_db()
    return export


def test_expiry_deletes_the_file_and_keeps_the_manifest_and_hashes(delivered_package):
    export = delivered_package
    name, manifest, plain = export.package.name, export.manifest, package_bytes(export)

    counts = shredding.packages_expire()

    export.refresh_from_db()
    assert counts == {"packages_purged": 1, "files_deleted": 1, "manifests_recovered": 0}
    assert not default_storage.exists(name)
    assert export.purged_at is not None and not export.package
    assert export.manifest == manifest and hashlib.sha256(manifest.encode()).hexdigest() == export.manifest_sha256
    assert export.package_sha256 == hashlib.sha256(plain).hexdigest()  # what was delivered stays provable


def test_expiry_is_safe_to_run_twice_and_finishes_a_run_cut_short(delivered_package):
    export = delivered_package
    name = export.package.name
    shredding._export_mark_purged(export.pk, now=timezone.now())  # a run that died before deleting the file
    assert default_storage.exists(name)

    first = shredding.packages_expire()
    second = shredding.packages_expire()

    assert first == {"packages_purged": 0, "files_deleted": 1, "manifests_recovered": 0}
    assert second == {"packages_purged": 0, "files_deleted": 0, "manifests_recovered": 0}
    assert not default_storage.exists(name)


def test_a_package_not_delivered_long_enough_or_not_at_all_stays(approved_warrant, legal_officer, settings):
    settings.WARRANTDESK_PACKAGE_DAYS = 30
    kept = run_export(approved_warrant, legal_officer)
    services.export_record_delivery(
        export=kept,
        actor=legal_officer,
        channel="IN_PERSON",
        recipient="Insp. Yoon",
        delivered_at=timezone.now() - dt.timedelta(days=29),
    )

    assert shredding.packages_expire()["packages_purged"] == 0
    kept.refresh_from_db()
    assert kept.purged_at is None and default_storage.exists(kept.package.name)
    # The first delivery counts: a later one does not extend the package's life.
    services.export_record_delivery(export=kept, actor=legal_officer, channel="COURIER", recipient="Insp. Han")
    assert shredding.packages_expire(now=timezone.now() + dt.timedelta(days=2))["packages_purged"] == 1


def test_a_purged_package_answers_410_on_the_web_the_api_and_the_link(delivered_package, legal_officer, client):
    export = delivered_package
    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=72)
    shredding.packages_expire()
    export.refresh_from_db()
    officer = client_for(legal_officer)

    web = officer.get(reverse("disclosure:export-download", args=[export.pk]))
    api = officer.get(f"/api/v1/exports/{export.pk}/download/")
    link = client.get(reverse("link-download", args=[token]))

    when = f"{export.purged_at:%Y-%m-%d}"
    assert web.status_code == 410 and f"purged on {when}" in unescape(web.content.decode())
    assert api.status_code == 410 and api.json()["code"] == "package_purged" and when in api.json()["detail"]
    assert link.status_code == 410 and f"purged on {when}" in unescape(link.content.decode())


def test_the_panel_says_purged_and_offers_the_kept_manifest_to_assigned_officers_only(
    delivered_package, legal_officer, outsider
):
    export = delivered_package
    shredding.packages_expire()
    export.refresh_from_db()
    officer = client_for(legal_officer)

    page = unescape(officer.get(export.warrant.get_absolute_url()).content.decode())
    manifest = officer.get(reverse("disclosure:export-manifest", args=[export.pk]))
    refused = client_for(outsider).get(reverse("disclosure:export-manifest", args=[export.pk]))

    assert f"Purged on {timezone.localtime(export.purged_at):%Y-%m-%d}; manifest kept." in page
    assert reverse("disclosure:export-manifest", args=[export.pk]) in page
    assert reverse("disclosure:export-download", args=[export.pk]) not in page
    assert manifest.status_code == 200 and manifest["Content-Type"].startswith("application/json")
    assert hashlib.sha256(manifest.content).hexdigest() == export.manifest_sha256
    assert refused.status_code == 404
    entry = AuditEntry.objects.filter(action=AuditAction.EXPORT_DOWNLOADED).get()
    assert entry.actor == legal_officer and entry.details["file"] == "manifest.json"


def test_the_panel_says_when_a_delivered_package_will_go(approved_warrant, legal_officer, settings):
    settings.WARRANTDESK_PACKAGE_DAYS = 30
    export = run_export(approved_warrant, legal_officer)
    delivery = services.export_record_delivery(
        export=export, actor=legal_officer, channel="IN_PERSON", recipient="Insp. Yoon"
    )

    page = unescape(client_for(legal_officer).get(approved_warrant.get_absolute_url()).content.decode())

    when = timezone.localtime(delivery.delivered_at + dt.timedelta(days=30))
    assert f"The package's file will be deleted on {when:%Y-%m-%d}" in page


def test_the_expiry_job_is_registered_and_audited_with_its_counts(delivered_package):
    job = periodic.registered()["packages.expire"]

    [outcome] = periodic.Runner({job.name: job}).run_due(only=[job.name], force=True)

    assert outcome.ok and outcome.summary["packages_purged"] == 1
    entry = AuditEntry.objects.filter(action=AuditAction.PERIODIC_RAN).get()
    assert entry.details["job"] == "packages.expire" and entry.details["counts"]["packages_purged"] == 1
    assert PeriodicJob.objects.get(name="packages.expire").last_summary["files_deleted"] == 1


def test_no_new_link_to_a_purged_package(delivered_package, legal_officer):
    shredding.packages_expire()
    delivered_package.refresh_from_db()

    with pytest.raises(PackagePurged):
        services.export_issue_link(export=delivered_package, actor=legal_officer, recipient="Insp. Yoon", hours=1)

    assert not delivered_package.links.exists()


def test_the_api_shows_a_purged_package_and_serves_its_kept_manifest(delivered_package, legal_officer, outsider):
    export = delivered_package
    shredding.packages_expire()
    export.refresh_from_db()
    officer = client_for(legal_officer)

    body = officer.get(f"/api/v1/exports/{export.pk}/").json()
    manifest = officer.get(body["manifest_url"])
    refused = client_for(outsider).get(f"/api/v1/exports/{export.pk}/manifest/")

    assert body["purged_at"] is not None and body["download_url"] is None
    assert manifest.status_code == 200
    assert hashlib.sha256(manifest.content).hexdigest() == body["manifest_sha256"] == export.manifest_sha256
    assert refused.status_code == 404


def test_each_purged_package_is_audited_once_in_its_warrants_timeline(delivered_package):
    export = delivered_package

    shredding.packages_expire()
    shredding.packages_expire()  # a second run purges nothing and records nothing

    entries = AuditEntry.objects.filter(action=AuditAction.EXPORT_PURGED)
    assert entries.count() == 1
    entry = entries.get()
    assert entry.warrant_ref == export.warrant.reference and entry.object_id == str(export.pk)
    assert entry.actor is None and entry.actor_label == "system"
    assert entry.details == {
        "kind": export.kind,
        "package_sha256": export.package_sha256,
        "manifest_sha256": export.manifest_sha256,
    }
    with translation.override("ko"):
        assert str(AuditAction(entry.action).label) == "제공 패키지 삭제됨"
