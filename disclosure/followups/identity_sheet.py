"""The identity sheet of a follow-up request: the approved pseudonyms and the identities behind them,
as held, in JSON and PDF, packaged, signed and checked (``verify_export``) exactly like an export.

``build`` writes the sheet in clear into the private temporary directory ``export_run`` gives it
(``out_dir``, mode 0700, removed afterwards); ``export_run`` stores it sealed under the warrant's
files key, like a package. The alias table is read back from the sealed packages
(``disclosure.packages.package_open``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import zipfile
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone

from requests_app.models import FollowUpToken
from warrantdesk.exceptions import DomainError

from .. import keys, pseudonyms
from ..exports.layout import FORMAT, GENERATOR, PSEUDONYMISED, PackageUnreadable, read_participants
from ..exports.package import BuiltPackage, sha256_file
from ..exports.pdf import write_pdf
from ..models import Account, Export
from ..packages import package_open

logger = logging.getLogger(__name__)


def _aliases(warrant) -> dict[str, str]:
    """Token -> alias as the delivered conversations package named them (read back from it)."""
    aliases: dict[str, str] = {}
    for export in Export.objects.filter(
        warrant=warrant, kind=Export.Kind.CONVERSATIONS, status=Export.Status.READY, purged_at__isnull=True
    ).order_by("pk"):
        try:
            with package_open(export) as handle:
                people = read_participants(handle)[PSEUDONYMISED]
        except (OSError, PackageUnreadable, DomainError) as error:
            # The sheet still names every token ("Token N"): the alias is a convenience.
            logger.warning("identity sheet: the alias table of export #%s cannot be read: %s", export.pk, error)
            continue
        for person in people:
            aliases.setdefault(person["token"], person["alias"])
    return aliases


def build(follow_up, *, out_dir: Path) -> BuiltPackage:
    warrant = follow_up.warrant
    key_id, key = keys.case_key(warrant)
    aliases = _aliases(warrant)
    people, revealed = [], []
    for token in follow_up.tokens.filter(decision=FollowUpToken.Decision.APPROVED).order_by("position"):
        uid = pseudonyms.reidentify(token.token, scope=warrant.reference, keys={key_id: key})
        account = Account.objects.get(uid=uid)
        revealed.append(account)
        people.append(
            {
                "token": token.token,
                "alias": aliases.get(token.token, f"Token {token.position}"),
                "uid": account.uid,
                "display_name": account.display_name,
                "phone": account.phone,
                "email": account.email,
            }
        )
    work = out_dir / f".build-{uuid.uuid4().hex}"
    work.mkdir(parents=True, mode=0o700)
    try:
        generated_at = timezone.now()
        sheet = {
            "format": FORMAT,
            "kind": "identity-sheet",
            "warrant": warrant.reference,
            "follow_up": follow_up.reference,
            "generated_at": generated_at.isoformat(),
            "identities": people,
        }
        (work / "identities.json").write_text(json.dumps(sheet, ensure_ascii=False, indent=2), encoding="utf-8")
        html = render_to_string(
            "disclosure/identity_sheet.html",
            {
                "reference": follow_up.reference,
                "warrant_reference": warrant.reference,
                "warrant_number": warrant.warrant_number,
                "agency": warrant.agency.name,
                "generated_at": timezone.localtime(generated_at).strftime("%Y-%m-%d %H:%M %Z"),
                "people": people,
                "operator_key_fingerprint": keys.format_fingerprint(
                    keys.public_key_fingerprint(keys.operator_public_key())
                ),
            },
        )
        write_pdf(html, work / "identities.pdf")
        names = ["identities.json", "identities.pdf"]
        public = keys.signing_key().public_key()
        manifest = {
            "format": FORMAT,
            "generator": GENERATOR,
            "kind": "identity-sheet",
            "created_at": generated_at.isoformat(),
            "warrant": {"reference": warrant.reference, "warrant_number": warrant.warrant_number},
            "agency": {"code": warrant.agency.code, "name": warrant.agency.name},
            "follow_up": follow_up.reference,
            "counts": {"revealed": len(people)},
            "operator_key_sha256": keys.public_key_fingerprint(public),
            "files": {n: {"sha256": sha256_file(work / n), "size": (work / n).stat().st_size} for n in names},
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        package = out_dir / f".{follow_up.reference}-{uuid.uuid4().hex}.zip.part"
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("manifest.json", manifest_bytes, compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr("manifest.sig", keys.sign(manifest_bytes) + "\n")
            archive.writestr("operator-public-key.pem", keys.public_key_pem(public))
            for name in names:
                archive.write(work / name, name, compress_type=zipfile.ZIP_DEFLATED)
        with open(package, "rb") as handle:
            os.fsync(handle.fileno())
        built = BuiltPackage(
            path=package,
            sha256=sha256_file(package),
            size=package.stat().st_size,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            counts={"revealed": len(people), "messages": 0},
            revealed=revealed,
        )
        return built
    finally:
        shutil.rmtree(work, ignore_errors=True)
