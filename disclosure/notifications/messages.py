"""What a notice says, and how it is written: the e-mail and the paper letter.

``notice_facts`` gathers everything a notice says from the notification alone (the warrant, the
person's own Disclosure rows, the operator's name and address), so a notice names nobody else.
``notice_message`` renders the e-mail from the template triplet ``emails/disclosure_notice-*`` in the
person's language, with the notification's own Message-ID (``new_message_id``, fixed when the notice
is planned and reused by every attempt). ``letter_html`` and ``render_letter`` make the paper letter
(HTML for the preview, PDF for printing) for a person without an e-mail address.
``NoticeRenderer`` renders the notices of one send batch from the batch's Disclosure rows, read in
one query (``disclosure_rows``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Min, Q
from django.template.loader import render_to_string
from django.utils import translation

from ..exports.pdf import write_pdf
from ..models import Disclosure, Notification

NOTICE = "disclosure_notice"


def make_message(
    name: str, to: str, ctx: dict, *, locale: str | None = None, headers: dict | None = None
) -> EmailMultiAlternatives:
    """One e-mail from the template triplet ``emails/<name>-subject.txt``, ``-body.txt``, ``-body.html``,
    rendered in ``locale`` (the recipient's language)."""
    with translation.override(locale or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
        text = render_to_string(f"emails/{name}-body.txt", ctx)
        html = render_to_string(f"emails/{name}-body.html", ctx)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers={**(headers or {}), "Content-Language": locale or ""}
    )
    message.attach_alternative(html, "text/html")
    return message


def new_message_id() -> str:
    """A fresh Message-ID for a notice (``notice.<random>@WARRANTDESK_MAIL_DOMAIN``), given once when it
    is planned: every attempt to send the notice reuses it."""
    return make_msgid(idstring=f"notice.{secrets.token_hex(8)}", domain=settings.WARRANTDESK_MAIL_DOMAIN)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice says; built from the notification alone, so it names nobody else."""

    reference: str
    recipient_name: str
    account_uid: str
    agency: str
    legal_basis: str
    requested_at: dt.datetime
    disclosed_at: dt.datetime
    period_start: dt.datetime
    period_end: dt.datetime
    target: bool
    revealed: bool
    revealed_at: dt.datetime | None
    messages: int
    contact: str
    locale: str
    # The sender (settings WARRANTDESK_OPERATOR_NAME / _ADDRESS) and, for letters, the person's address.
    operator_name: str = ""
    operator_address: list[str] = field(default_factory=list)
    recipient_address: list[str] = field(default_factory=list)


def address_lines(value: str) -> list[str]:
    """An address written on several lines, or on one with " | " between its lines."""
    return [line.strip() for line in value.replace("|", "\n").splitlines() if line.strip()]


def disclosure_rows(notifications: list[Notification]) -> dict[tuple[int, int], list[Disclosure]]:
    """The delivered Disclosure rows of many notifications in one query, by (warrant, account), each
    annotated with ``first_delivery`` (the first delivery of its export)."""
    rows: dict[tuple[int, int], list[Disclosure]] = defaultdict(list)
    query = Q()
    for warrant_id in {n.warrant_id for n in notifications}:
        accounts = [n.account_id for n in notifications if n.warrant_id == warrant_id]
        query |= Q(export__warrant_id=warrant_id, account_id__in=accounts)
    found = (
        Disclosure.objects.filter(query, export__deliveries__isnull=False)
        .annotate(first_delivery=Min("export__deliveries__delivered_at"))
        .select_related("export")
    )
    for row in found:
        rows[(row.export.warrant_id, row.account_id)].append(row)
    return rows


def notice_facts(notification: Notification, rows: list[Disclosure] | None = None) -> NoticeFacts:
    """What the notice of ``notification`` says; ``rows`` are the person's delivered Disclosure rows of
    the warrant (read here when not given)."""
    warrant, account = notification.warrant, notification.account
    if rows is None:
        rows = disclosure_rows([notification])[(notification.warrant_id, notification.account_id)]
    messages = max((row.messages for row in rows if row.role != Disclosure.Role.REVEALED), default=0)
    revealed_at = min((row.first_delivery for row in rows if row.role == Disclosure.Role.REVEALED), default=None)
    return NoticeFacts(
        reference=warrant.reference,
        recipient_name=account.display_name,
        account_uid=account.uid,
        agency=warrant.agency.name,
        legal_basis=warrant.legal_basis,
        requested_at=warrant.received_at,
        disclosed_at=notification.disclosed_at,
        period_start=warrant.period_start,
        period_end=warrant.period_end,
        target=notification.target,
        revealed=notification.revealed,
        revealed_at=revealed_at,
        messages=messages,
        contact=settings.WARRANTDESK_PRIVACY_CONTACT,
        locale=account.locale,
        operator_name=settings.WARRANTDESK_OPERATOR_NAME,
        operator_address=address_lines(settings.WARRANTDESK_OPERATOR_ADDRESS),
        recipient_address=address_lines(account.postal_address),
    )


def notice_message(notification: Notification, facts: NoticeFacts | None = None) -> EmailMultiAlternatives:
    """The notice e-mail, with the notification's own, stable Message-ID."""
    facts = facts or notice_facts(notification)
    return make_message(
        NOTICE,
        notification.account.email,
        {"notice": facts},
        locale=facts.locale,
        headers={"Message-ID": notification.message_id},
    )


class NoticeRenderer:
    """Renders the notices of one send batch from the batch's Disclosure rows (one query)."""

    def __init__(self, rows: dict[tuple[int, int], list[Disclosure]]):
        self.rows = rows

    def message(self, notification: Notification) -> EmailMultiAlternatives:
        facts = notice_facts(notification, self.rows[(notification.warrant_id, notification.account_id)])
        return notice_message(notification, facts)


def is_letter(notification: Notification) -> bool:
    """The notice goes (or went) by post: listed for a letter, or the person has no e-mail address."""
    return notification.channel == Notification.Channel.LETTER or not notification.account.email


def letter_html(notification: Notification, facts: NoticeFacts | None = None) -> str:
    """The paper letter as HTML, in the person's language: what the PDF prints, and the preview shows."""
    facts = facts or notice_facts(notification)
    with translation.override(facts.locale):
        return render_to_string("disclosure/notification_letter.html", {"notice": facts})


def render_letter(notification: Notification) -> bytes:
    """The paper letter (PDF, NanumGothic for Korean) for a person without an e-mail address."""
    pdf = write_pdf(letter_html(notification))
    assert pdf is not None
    return pdf
