"""Sample documents for the demo of ``make run`` (``WARRANTDESK_DEMO``, off by default and in production).

A new user walks the whole journey without writing code: the "Log a warrant" page offers a sample
warrant of the demo agency, signed when it is downloaded by the agency's registered chief
investigator (the demo PKI of ``seed_demo``) and naming accounts of the demo conversation store;
the follow-up form offers a signed sample request naming pseudonyms of that warrant's delivered
export. Both pass the real signature check. Nothing here runs unless demo mode is on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from requests_app.models import Agency, Investigator, Warrant

if TYPE_CHECKING:
    from . import pki

SAMPLE_AGENCY = "scdpo"
SAMPLE_NUMBER = re.compile(r"DEMO-\d{8}-\d{6}")


def enabled() -> bool:
    return bool(getattr(settings, "WARRANTDESK_DEMO", False))


def _directory() -> Path:
    return Path(settings.VAR_DIR) / "demo-pki"


def save_sample_targets(targets: list[dict]) -> None:
    """Called by seed_demo: the store's accounts the sample warrant names (``[{"kind", "identifier"}]``)."""
    directory = _directory()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / "sample-targets.json").write_text(json.dumps(targets))


def _sample_targets() -> list[dict]:
    try:
        return json.loads((_directory() / "sample-targets.json").read_text())
    except (OSError, ValueError):
        return []


def _pki():
    """``demo.pki`` (pyHanko, about 20 MB), imported when a sample is made rather than in every process
    that loads the demo's views."""
    from . import pki

    return pki


def _keys(agency: Agency) -> pki.DemoAgencyPKI | None:
    """The demo PKI of ``agency`` when seed_demo made one and registered its chief, else None."""
    directory = _directory() / agency.code
    if not (directory / "chief.key.pem").exists() or not (directory / "root.key.pem").exists():
        return None
    chief = Investigator.objects.filter(agency=agency, is_chief=True).first()
    if chief is None:
        return None
    return _pki().agency_pki(_directory(), agency.code, agency.name, chief.name, chief.name)


def text_pdf(lines: list[str], *, font_size: int = 11) -> bytes:
    """A valid one-page PDF with ``lines`` of text (Helvetica, so ASCII: other characters become "?"),
    unsigned: the sample documents and the demo warrants are signed afterwards."""
    safe = [
        line.encode("ascii", "replace").decode().replace("\\", "/").replace("(", "[").replace(")", "]")
        for line in lines
    ]
    body = f"BT /F1 {font_size} Tf 60 780 Td {font_size + 4} TL " + " ".join(f"({line}) '" for line in safe) + " ET"
    stream = body.encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- the sample warrant ------------------------------------------------------------------------------


@dataclass
class SampleWarrant:
    agency: Agency
    number: str
    received_at: dt.datetime
    targets: list[dict] = field(default_factory=list)

    court = "Seoul Central District Court"
    legal_basis = "Criminal Procedure Act art. 215; Protection of Communications Secrets Act art. 13"

    @property
    def case_number(self) -> str:
        return f"2026-demo-{self.number[-6:]}"

    @property
    def deadline(self) -> dt.datetime:
        return self.received_at + dt.timedelta(days=7)

    @property
    def period_end(self) -> dt.datetime:
        return timezone.localtime(self.received_at).replace(hour=0, minute=0) - dt.timedelta(days=1)

    @property
    def period_start(self) -> dt.datetime:
        return self.period_end - dt.timedelta(days=60)

    @property
    def targets_text(self) -> str:
        """The targets as the form takes them (one per line, ``phone:`` / ``email:`` prefixes)."""
        return "\n".join(
            target["identifier"] if target["kind"] == "UID" else f"{target['kind'].lower()}: {target['identifier']}"
            for target in self.targets
        )

    def initial(self) -> dict:
        """The "Log a warrant" form filled in as the sample reads (the file is chosen by hand)."""
        return {
            "agency": self.agency.pk,
            "warrant_number": self.number,
            "court": self.court,
            "case_number": self.case_number,
            "legal_basis": self.legal_basis,
            "kind": Warrant.Kind.ORDINARY,
            "received_at": self.received_at,
            "received_via": Warrant.Via.PORTAL,
            "deadline": self.deadline,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "targets": self.targets_text,
        }

    def pdf(self) -> bytes:
        """The warrant, signed now by the agency's registered chief investigator (claiming a moment
        before the suggested receipt time)."""
        keys = _keys(self.agency)
        if keys is None:  # samples are offered only for agencies with a demo PKI (see below)
            raise LookupError("This agency has no demo PKI to sign a sample with.")
        chief = Investigator.objects.filter(agency=self.agency, is_chief=True).first()
        stamp = "%Y-%m-%d %H:%M"
        lines = [
            "SEARCH AND SEIZURE WARRANT (DEMO SAMPLE - NOT A REAL WARRANT)",
            "",
            f"Issuing agency: {self.agency.name}",
            f"Warrant number: {self.number}",
            f"Court: {self.court}    Case number: {self.case_number}",
            f"Legal basis: {self.legal_basis}",
            "",
            "Targets (accounts of the operator's service):",
            *(f"  - {target['kind']}: {target['identifier']}" for target in self.targets),
            "",
            f"Period: {timezone.localtime(self.period_start):{stamp}} to {timezone.localtime(self.period_end):{stamp}}",
            f"Sent to the operator: {timezone.localtime(self.received_at):{stamp}}",
            f"Answer by: {timezone.localtime(self.deadline):{stamp}}",
            "",
            f"Signed: {chief.name if chief else ''}, chief investigator",
        ]
        return _pki().sign_pdf(
            text_pdf(lines), keys.chief, keys.root, signed_at=self.received_at - dt.timedelta(minutes=30)
        )


def sample_warrant(number: str = "", *, now: dt.datetime | None = None) -> SampleWarrant | None:
    """The sample warrant ``number`` (a new number when none or a malformed one is given), or None
    when the demo agency, its PKI or the sample targets are missing (seed_demo has not run)."""
    agency = Agency.objects.filter(code=SAMPLE_AGENCY, active=True).first()
    targets = _sample_targets()
    if agency is None or not targets or _keys(agency) is None:
        return None
    exact = timezone.localtime(now or timezone.now())
    if not SAMPLE_NUMBER.fullmatch(number or ""):
        # To the second: two samples fetched in one minute are two warrants, not a possible duplicate.
        number = f"DEMO-{exact:%Y%m%d-%H%M%S}"
    received_at = exact.replace(second=0, microsecond=0)  # what the form's minute field can show
    return SampleWarrant(agency=agency, number=number, received_at=received_at, targets=targets)


# --- the sample follow-up request --------------------------------------------------------------------

SAMPLE_REASONS = (
    "Arranged the handover with the target on the dates of the warrant (demo sample).",
    "Received the payments the target announced in the chat (demo sample).",
)


def sample_followup_picks(aliases) -> dict[str, str]:
    """The pseudonyms the sample request names, with their justifications: the two busiest
    pseudonymised participants of the delivered export."""
    busiest = sorted(aliases, key=lambda alias: (-alias.messages, alias.alias))[: len(SAMPLE_REASONS)]
    return {alias.token: reason for alias, reason in zip(busiest, SAMPLE_REASONS, strict=False)}


def sample_followup_pdf(warrant: Warrant, aliases, *, now: dt.datetime | None = None) -> bytes | None:
    """A follow-up request for ``warrant`` naming ``sample_followup_picks(aliases)``, signed now by the
    agency's registered chief investigator; None without a demo PKI or a pseudonym to name."""
    keys = _keys(warrant.agency)
    picks = sample_followup_picks(aliases)
    if keys is None or not picks:
        return None
    now = timezone.localtime(now or timezone.now()).replace(second=0, microsecond=0)
    chief = Investigator.objects.filter(agency=warrant.agency, is_chief=True).first()
    names = {alias.token: alias.alias for alias in aliases}
    lines = [
        "FOLLOW-UP REQUEST: IDENTITY OF PSEUDONYMS (DEMO SAMPLE)",
        "",
        f"Issuing agency: {warrant.agency.name}",
        f"Warrant: {warrant.reference} (warrant number {warrant.warrant_number})",
        f"Sent to the operator: {now:%Y-%m-%d %H:%M}",
        "",
        "We ask to know who is behind these pseudonyms of the delivered package:",
    ]
    for token, reason in picks.items():
        lines += [f"  - {names.get(token, '')}: {token[:40]}", f"    {token[40:]}", f"    Why: {reason}"]
    lines += ["", f"Signed: {chief.name if chief else ''}, chief investigator"]
    return _pki().sign_pdf(text_pdf(lines), keys.chief, keys.root, signed_at=now - dt.timedelta(minutes=30))
