"""The registry of who may sign warrants: agencies, their trust anchors and their investigators.

Every change is audited in the same transaction. ``actor=None`` means the operator at the command
line (``manage.py register_agency`` / ``register_investigator``), who already holds the server.
"""

from __future__ import annotations

import getpass

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from warrantdesk.audit import audit_record
from warrantdesk.exceptions import DomainError
from warrantdesk.models import AuditAction

from . import signatures
from .dates import CLOCK_SKEW
from .models import Agency, Investigator, TrustAnchor


def _require(actor: User | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(_("Only administrators can change the registry of signers."))


def _audit(actor: User | None, obj, **details) -> None:
    audit_record(
        action=AuditAction.REGISTRY_CHANGED,
        actor=actor,
        actor_label=None if actor is not None else f"cli:{getpass.getuser()}",
        obj=obj,
        details=details,
    )


def _parse(data: bytes) -> list[signatures.CertificateInfo]:
    try:
        certificates = signatures.load_certificates(data)
    except ValueError as exc:
        raise DomainError(_("This is not a certificate in PEM or DER form: %(error)s") % {"error": exc}) from exc
    if not certificates:
        raise DomainError(_("The file holds no certificate."))
    return certificates


@transaction.atomic
def agency_save(
    *, code: str, name: str, actor: User | None, kind: str = Agency.Kind.POLICE, contact_email: str = ""
) -> Agency:
    """Create the agency, or update its name, kind and contact when the code exists."""
    _require(actor, "requests_app.change_agency")
    agency, created = Agency.objects.get_or_create(
        code=code, defaults={"name": name, "kind": kind, "contact_email": contact_email}
    )
    if not created and (agency.name, agency.kind, agency.contact_email) != (name, kind, contact_email):
        agency.name, agency.kind, agency.contact_email = name, kind, contact_email
        agency.save(update_fields=["name", "kind", "contact_email"])
    elif not created:
        return agency
    _audit(actor, agency, op="agency.add" if created else "agency.change", code=code)
    return agency


def anchor_certificates_check(certificate: bytes) -> list[signatures.CertificateInfo]:
    """The CA certificates in a PEM bundle or DER file; DomainError for anything else."""
    certificates = _parse(certificate)
    for info in certificates:
        if not info.is_ca:
            raise DomainError(
                _("“%(subject)s” is not a CA certificate; register it as an investigator instead.")
                % {"subject": info.subject}
            )
    return certificates


@transaction.atomic
def anchor_add(*, agency: Agency, certificate: bytes, actor: User | None) -> list[TrustAnchor]:
    """Accept the CA certificate(s) in ``certificate`` (PEM bundle or DER) for this agency."""
    _require(actor, "requests_app.change_agency")
    added = []
    for info in anchor_certificates_check(certificate):
        anchor, created = TrustAnchor.objects.get_or_create(
            agency=agency,
            certificate_sha256=info.fingerprint,
            defaults={"subject": info.subject[:500], "certificate_pem": info.pem, "not_after": info.not_after},
        )
        if not created and not anchor.active:
            anchor.active = True
            anchor.save(update_fields=["active"])
            created = True
        if created:
            _audit(actor, anchor, op="anchor.add", agency=agency.code, sha256=info.fingerprint, subject=info.subject)
        added.append(anchor)
    return added


@transaction.atomic
def anchor_deactivate(*, anchor: TrustAnchor, actor: User | None) -> TrustAnchor:
    _require(actor, "requests_app.change_agency")
    if anchor.active:
        anchor.active = False
        anchor.save(update_fields=["active"])
        _audit(actor, anchor, op="anchor.deactivate", agency=anchor.agency.code, sha256=anchor.certificate_sha256)
    return anchor


def agency_anchor_certificates(agency: Agency) -> list[bytes]:
    return [
        anchor.certificate_pem.encode()
        for anchor in TrustAnchor.objects.filter(agency=agency, active=True).only("certificate_pem")
    ]


def _day(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")


def _validity_refusal(problem: signatures.ValidityProblem, *, moment, now) -> str:
    cert = problem.certificate
    values = {
        "subject": cert.subject,
        "start": _day(cert.not_before),
        "end": _day(cert.not_after),
        "moment": _day(moment),
    }
    if problem.is_leaf and problem.expired:
        message = _(
            "The certificate of “%(subject)s” expired on %(end)s (it was valid from %(start)s to %(end)s), "
            "so it cannot be registered as of %(moment)s."
        )
        if moment >= now - CLOCK_SKEW:
            message += " " + _(
                "For warrants received while it was valid, register it as of such a moment "
                "(register_investigator --valid-at, or valid_at in the API and the admin)."
            )
    elif problem.is_leaf:
        message = _(
            "The certificate of “%(subject)s” was not yet valid at %(moment)s: it is valid from %(start)s to %(end)s."
        )
    elif problem.expired:
        message = _(
            "The agency's CA certificate “%(subject)s”, which this certificate chains to, expired on %(end)s "
            "(it was valid from %(start)s to %(end)s), so the certificate cannot be registered as of %(moment)s."
        )
    else:
        message = _(
            "The agency's CA certificate “%(subject)s”, which this certificate chains to, was not yet valid at "
            "%(moment)s: it is valid from %(start)s to %(end)s."
        )
    return message % values


def investigator_certificate_check(*, agency: Agency, certificate: bytes, valid_at=None) -> signatures.CertificateInfo:
    """The certificate an investigator of ``agency`` may be registered with; DomainError if not.

    The chain is validated now, or at ``valid_at`` (a past moment: for warrants received while a
    certificate now expired was valid). A key too short for the signature policy is refused: no
    signature made with it could ever be accepted."""
    now = timezone.now()
    moment = valid_at or now
    if moment > now + CLOCK_SKEW:
        raise DomainError(_("A certificate can be registered as of now or a past moment, not the future."))
    info = _parse(certificate)[0]
    if info.is_ca:
        raise DomainError(_("“%(subject)s” is a CA certificate; add it as a trust anchor.") % {"subject": info.subject})
    if weak := signatures.weak_key(info.pem.encode()):
        raise DomainError(
            _(
                "The certificate of “%(subject)s” has a %(bits)d-bit %(algorithm)s key; the signature policy "
                "requires at least %(minimum)d bits, so no signature made with it could be accepted."
            )
            % {"subject": info.subject, "bits": weak.bits, "algorithm": weak.algorithm, "minimum": weak.minimum}
        )
    anchors = agency_anchor_certificates(agency)
    if not anchors:
        raise DomainError(
            _("Agency %(code)s has no trust anchors yet; add its CA certificates first.") % {"code": agency.code}
        )
    if not signatures.chains_to(info.pem.encode(), anchors, at=moment):
        problem = signatures.chain_validity_problem(info.pem.encode(), anchors, at=moment)
        if problem is not None:
            raise DomainError(_validity_refusal(problem, moment=moment, now=now))
        raise DomainError(
            _("The certificate of “%(subject)s” does not chain to any trust anchor of %(code)s.")
            % {"subject": info.subject, "code": agency.code}
        )
    existing = Investigator.objects.filter(certificate_sha256=info.fingerprint).exclude(agency=agency).first()
    if existing is not None:
        raise DomainError(_("This certificate is already registered to %(agency)s.") % {"agency": existing.agency.name})
    return info


@transaction.atomic
def investigator_register(
    *,
    agency: Agency,
    certificate: bytes,
    name: str,
    actor: User | None,
    title: str = "",
    is_chief: bool = False,
    valid_at=None,
) -> Investigator:
    """Register an investigator by certificate; it must chain to one of the agency's anchors now, or
    at ``valid_at``: a past moment, for warrants received while a certificate now expired was valid.
    The moment is recorded on the investigator and in the audit entry. Registering as of the past does
    not make later warrants pass: each signature is still judged at its warrant's receipt time."""
    _require(actor, "requests_app.add_investigator")
    info = investigator_certificate_check(agency=agency, certificate=certificate, valid_at=valid_at)
    moment = valid_at or timezone.now()
    existing = Investigator.objects.filter(certificate_sha256=info.fingerprint).first()
    investigator = existing or Investigator(agency=agency, certificate_sha256=info.fingerprint)
    investigator.name, investigator.title, investigator.is_chief = name, title, is_chief
    investigator.certificate_pem, investigator.certificate_subject = info.pem, info.subject[:500]
    investigator.certificate_not_after, investigator.active = info.not_after, True
    investigator.certificate_valid_at = moment
    investigator.save()
    _audit(
        actor,
        investigator,
        op="investigator.change" if existing else "investigator.add",
        agency=agency.code,
        chief=is_chief,
        sha256=info.fingerprint,
        valid_at=moment.isoformat(),
        as_of_past=valid_at is not None,
    )
    return investigator


@transaction.atomic
def investigator_update(
    *, investigator: Investigator, actor: User | None, is_chief: bool | None = None, active: bool | None = None
) -> Investigator:
    _require(actor, "requests_app.change_investigator")
    changed = {}
    if is_chief is not None and is_chief != investigator.is_chief:
        investigator.is_chief = changed["chief"] = is_chief
    if active is not None and active != investigator.active:
        investigator.active = changed["active"] = active
    if changed:
        investigator.save(update_fields=["is_chief", "active"])
        _audit(actor, investigator, op="investigator.change", agency=investigator.agency.code, **changed)
    return investigator
