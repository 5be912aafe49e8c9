"""The transparency report: figures of a period computed from the case data, never typed in.

``figures(period)`` counts, for the warrants *received* in the period and as the data stands when it
runs: warrants by agency and kind; honoured (delivered, notifying, closed), refused (for a failed
signature, by the reason of the latest check of the warrant's document, or on legal grounds: rejected
with a valid signature) and still open (a partition: the three add up to the warrants received);
target identifiers named and target accounts disclosed; non-target participants disclosed only as
pseudonyms (``Disclosure`` rows with role pseudonymised in delivered exports, one per account per
warrant) and how many of them a delivered identity sheet later revealed; notices owed for those
warrants, sent, ever deferred and overdue now; the median days from receipt to the first delivery;
the warrants whose period reached beyond retention and the days of data that no longer existed when
they arrived (``disclosure.retention.retention_gap``). Follow-up requests and their pseudonyms are
counted by the request's own receipt date.

Those raw counts never leave this module but through ``published(raw, threshold)``: every count
below the threshold (``WARRANTDESK_REPORT_BAND``, 10 by default) becomes a band such as ``"0-9"``,
so that no single case can be recognised, and every figure derived from a banded count (a ratio, a
median, a sum of days) is shown as a range or withheld. HTML, PDF, CSV, JSON and the published
(signed) version are all rendered from the published form.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import statistics
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from disclosure import keys
from disclosure.models import Delivery, Disclosure, Export, Notification
from disclosure.notifications.selectors import overdue_q
from disclosure.retention import retention_gap
from requests_app.models import (
    Document,
    FollowUpRequest,
    FollowUpToken,
    SignatureCheck,
    SignatureOutcome,
    Warrant,
    WarrantTarget,
)
from requests_app.workflow import Status
from warrantdesk import operator_keys
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

FORMAT = "warrantdesk-transparency-report/1"
HONOURED = (Status.DELIVERED, Status.NOTIFYING, Status.CLOSED)
SIGNATURE_REFUSAL_STATUSES = (Status.SIGNATURE_FAILED, Status.REJECTED)
NO_CHECK = "NO_CHECK"  # a signature failure without a finished check on record (never seen, but possible)
SLUG = re.compile(r"^(?P<year>\d{4})-h(?P<half>[12])$|^(?P<start>\d{4}-\d{2}-\d{2})_(?P<end>\d{4}-\d{2}-\d{2})$")


def band_threshold() -> int:
    return max(1, int(getattr(settings, "WARRANTDESK_REPORT_BAND", 10)))


# --- the period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included, in the operator's time zone (``TIME_ZONE``)."""

    start: dt.date
    end: dt.date

    @property
    def half(self) -> int | None:
        """1 or 2 when the period is exactly a half-year (H1 = January-June, H2 = July-December)."""
        if self.start.year != self.end.year:
            return None
        if (self.start, self.end) == (dt.date(self.start.year, 1, 1), dt.date(self.start.year, 6, 30)):
            return 1
        if (self.start, self.end) == (dt.date(self.start.year, 7, 1), dt.date(self.start.year, 12, 31)):
            return 2
        return None

    @property
    def slug(self) -> str:
        """``2026-h1`` for a half-year, ``2026-01-01_2026-03-31`` for any other range (in URLs)."""
        if self.half:
            return f"{self.start.year}-h{self.half}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def label(self) -> str:
        if self.half:
            return f"{self.start.year} H{self.half}"
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """``[start 00:00, the day after end 00:00)`` as aware datetimes."""
        zone = timezone.get_default_timezone()
        start = dt.datetime.combine(self.start, dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return start, end

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "slug": self.slug}

    @classmethod
    def half_year(cls, year: int, half: int) -> Period:
        if half == 1:
            return cls(dt.date(year, 1, 1), dt.date(year, 6, 30))
        return cls(dt.date(year, 7, 1), dt.date(year, 12, 31))

    @classmethod
    def containing(cls, day: dt.date) -> Period:
        return cls.half_year(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def from_slug(cls, slug: str) -> Period | None:
        match = SLUG.match(slug or "")
        if match is None:
            return None
        try:
            if match["year"]:
                return cls.half_year(int(match["year"]), int(match["half"]))
            start, end = dt.date.fromisoformat(match["start"]), dt.date.fromisoformat(match["end"])
        except ValueError:
            return None
        return cls(start, end) if start <= end else None


# --- the raw figures (never published as they are) -------------------------------------------------


def figures(period: Period, *, now: dt.datetime | None = None) -> dict:
    """The raw counts of ``period`` as the data stands ``now``. Pass them through ``published``."""
    now = now or timezone.now()
    start, end = period.bounds()
    received = Warrant.objects.filter(received_at__gte=start, received_at__lt=end)
    return {
        "warrants": _warrants(received),
        "accounts": _accounts(received),
        "follow_ups": _follow_ups(start, end),
        "notices": _notices(received, now),
        "response": _response(received),
        "retention": _retention(received),
    }


def _warrants(received) -> dict:
    by_agency: dict[str, dict] = {}
    ordinary = emergency = 0
    for row in received.values("agency__code", "agency__name", "kind").annotate(n=Count("pk")).order_by():
        agency = by_agency.setdefault(
            row["agency__code"],
            {"agency": row["agency__code"], "name": row["agency__name"], "ordinary": 0, "emergency": 0, "total": 0},
        )
        kind = "emergency" if row["kind"] == Warrant.Kind.EMERGENCY else "ordinary"
        agency[kind] += row["n"]
        agency["total"] += row["n"]
        if kind == "emergency":
            emergency += row["n"]
        else:
            ordinary += row["n"]
    statuses = dict(received.values("status").annotate(n=Count("pk")).order_by().values_list("status", "n"))
    latest = (
        SignatureCheck.objects.filter(document__warrant=OuterRef("pk"), document__kind=Document.Kind.WARRANT)
        .exclude(outcome=SignatureOutcome.PENDING)
        .order_by("-checked_at", "-pk")
        .values("outcome")[:1]
    )
    by_reason: dict[str, int] = {}
    legal = 0
    refusals = received.filter(status__in=SIGNATURE_REFUSAL_STATUSES).annotate(outcome=Subquery(latest))
    for status, outcome, n in refusals.values_list("status", "outcome").annotate(n=Count("pk")).order_by():
        if status == Status.REJECTED and outcome in (None, SignatureOutcome.VALID):
            legal += n  # a reviewer's refusal of a validly signed (or never checked) warrant
        else:
            reason = outcome or NO_CHECK
            by_reason[reason] = by_reason.get(reason, 0) + n
    honoured = sum(statuses.get(status, 0) for status in HONOURED)
    refused_signature = sum(by_reason.values())
    total = ordinary + emergency
    return {
        "received": total,
        "ordinary": ordinary,
        "emergency": emergency,
        "by_agency": sorted(by_agency.values(), key=lambda row: (-row["total"], row["agency"])),
        "honoured": honoured,
        "refused_signature": refused_signature,
        "refused_signature_by_reason": dict(sorted(by_reason.items())),
        "refused_legal": legal,
        "open": total - honoured - refused_signature - legal,
    }


def _accounts(received) -> dict:
    """People in the delivered packages of the period's warrants, as distinct (warrant, account) pairs:
    a person in two exports of one warrant counts once. ``revealed``: pseudonymised pairs that a
    delivered identity sheet of the same warrant later named.

    One query: the delivered exports' disclosures grouped by (warrant, account), each pair flagged by
    the roles it has, and the flags summed by the database (no row per person reaches Python; a
    correlated EXISTS per pseudonymised row was quadratic on SQLite)."""
    delivered = Exists(Delivery.objects.filter(export=OuterRef("export_id")))

    def has(role: str) -> Max:
        return Max(Case(When(role=role, then=Value(1)), default=Value(0), output_field=IntegerField()))

    pairs = (
        Disclosure.objects.filter(
            delivered, export__warrant__in=received.values("pk"), export__status=Export.Status.READY
        )
        .values("export__warrant_id", "account_id")
        .annotate(
            is_target=has(Disclosure.Role.TARGET),
            is_pseudonymised=has(Disclosure.Role.PSEUDONYMISED),
            is_revealed=has(Disclosure.Role.REVEALED),
        )
        .order_by()
    )
    counts = pairs.aggregate(
        target_accounts=Coalesce(Sum("is_target"), 0),
        pseudonymised=Coalesce(Sum("is_pseudonymised"), 0),
        revealed=Coalesce(Sum(F("is_pseudonymised") * F("is_revealed")), 0),
    )
    pseudonymised_count = counts["pseudonymised"]
    revealed_count = counts["revealed"]
    return {
        "targets_named": WarrantTarget.objects.filter(warrant__in=received.values("pk")).count(),
        "target_accounts": counts["target_accounts"],
        "pseudonymised": pseudonymised_count,
        "revealed": revealed_count,
        "still_pseudonymous": pseudonymised_count - revealed_count,
    }


def _follow_ups(start: dt.datetime, end: dt.datetime) -> dict:
    requests = FollowUpRequest.objects.filter(received_at__gte=start, received_at__lt=end)
    tokens = FollowUpToken.objects.filter(request__in=requests.values("pk"))
    approved_q = Exists(FollowUpToken.objects.filter(request=OuterRef("pk"), decision=FollowUpToken.Decision.APPROVED))
    finished = [
        FollowUpRequest.Status.REFUSED,
        FollowUpRequest.Status.SIGNATURE_FAILED,
        FollowUpRequest.Status.DECIDED,
        FollowUpRequest.Status.DISCLOSED,
    ]
    counts = requests.aggregate(
        total=Count("pk"),
        approved=Count("pk", filter=Q(approved_q)),
        refused=Count("pk", filter=~Q(approved_q) & Q(status__in=finished)),
    )
    decisions = dict(tokens.values("decision").annotate(n=Count("pk")).order_by().values_list("decision", "n"))
    return {
        "requests": counts["total"],
        "requests_approved": counts["approved"],
        "requests_refused": counts["refused"],
        "requests_pending": counts["total"] - counts["approved"] - counts["refused"],
        "tokens": sum(decisions.values()),
        "tokens_approved": decisions.get(FollowUpToken.Decision.APPROVED, 0),
        "tokens_refused": decisions.get(FollowUpToken.Decision.REFUSED, 0),
        "tokens_pending": decisions.get(FollowUpToken.Decision.PENDING, 0),
    }


def _notices(received, now: dt.datetime) -> dict:
    counts = Notification.objects.filter(warrant__in=received.values("pk")).aggregate(
        owed=Count("pk"),
        sent=Count("pk", filter=Q(status=Notification.Status.SENT)),
        deferred=Count("pk", filter=Q(deferred_until__isnull=False)),
        overdue=Count("pk", filter=overdue_q(now)),
    )
    return dict(counts)


def _response(received) -> dict:
    """Days from receipt to the first delivery of the warrant's conversations package."""
    first = (
        Delivery.objects.filter(export__warrant__in=received.values("pk"), export__kind=Export.Kind.CONVERSATIONS)
        .values("export__warrant_id")
        .annotate(first=Min("delivered_at"), received=Min("export__warrant__received_at"))
        .order_by()
    )
    sql, params = first.values_list("first", "received").query.sql_with_params()
    days = []
    with connection.chunked_cursor() as cursor:  # read like _retention's dates: no ORM conversion per value
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(5000):
            for delivered, received_at in (_datetimes(row) for row in rows):
                days.append(max((delivered - received_at).total_seconds(), 0) / 86400)
    return {"responses": len(days), "median_days": round(statistics.median(days), 1) if days else None}


def _datetimes(row: tuple) -> tuple[dt.datetime, ...]:
    """Datetimes read with a plain cursor: SQLite hands back its stored UTC text, parsed here (naive
    UTC, as SQL compares it); PostgreSQL hands back aware datetimes. Differences are the same."""
    if isinstance(row[0], str):
        return tuple(dt.datetime.fromisoformat(value) for value in row)
    return row


class _Dates(NamedTuple):
    received_at: dt.datetime
    period_start: dt.datetime
    period_end: dt.datetime


def _retention(received) -> dict:
    """The warrants whose period started before the retention horizon at receipt, and the days of it
    already gone: ``retention_gap`` (``affected``, ``days_beyond``) on each warrant's three dates.

    The dates are read with a plain cursor and the horizon compared here, per row: SQLite would
    otherwise compute ``received_at - retention`` in a Python function per row, and the ORM convert
    every value to an aware datetime; on SQLite the stored UTC text is parsed with ``fromisoformat``
    (naive UTC, like the text compared in SQL), PostgreSQL hands back datetimes already."""
    dates = received.order_by().values_list("received_at", "period_start", "period_end")
    sql, params = dates.query.sql_with_params()
    hundredths = 0  # days_beyond is to the hundredth: summed exactly, whatever the order of the rows
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(5000):
            for row in rows:
                gap = retention_gap(_Dates(*_datetimes(row)))  # the dates retention_gap reads, no model instance
                if gap.affected:
                    hundredths += round(gap.days_beyond * 100)
                    count += 1
    return {"warrants_beyond": count, "days_missing": round(hundredths / 100, 1)}


# --- what may be published -------------------------------------------------------------------------


def band(value: int, threshold: int) -> int | str:
    """``value`` itself from the threshold up; below it, the band ``"0-<threshold-1>"``."""
    return value if value >= threshold else f"0-{threshold - 1}"


def is_banded(value) -> bool:
    return isinstance(value, str)


def display(value) -> str:
    """A published count as people read it: ``1,234`` or ``0-9``; a withheld figure as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _ratio(revealed: int, pseudonymised: int, threshold: int) -> str | None:
    """revealed / pseudonymised as a percentage; a range when the revealed count is banded (so that
    the ratio does not give it away), withheld when the pseudonymised count itself is banded."""
    if pseudonymised < threshold:
        return None
    if revealed < threshold:
        return f"0.0-{100 * (threshold - 1) / pseudonymised:.1f}%"
    return f"{100 * revealed / pseudonymised:.1f}%"


def published(raw: dict, threshold: int | None = None) -> dict:
    """The figures that may leave the building: every count banded below ``threshold``."""
    threshold = band_threshold() if threshold is None else threshold

    def counts(section: dict) -> dict:
        return {key: band(value, threshold) for key, value in section.items() if isinstance(value, int)}

    warrants = raw["warrants"]
    accounts = raw["accounts"]
    response = raw["response"]
    retention = raw["retention"]
    shown_pseudonymised = display(band(accounts["pseudonymised"], threshold))
    bracket = f"{shown_pseudonymised} (revealed: {display(band(accounts['revealed'], threshold))})"
    enough_responses = response["responses"] >= threshold
    enough_beyond = retention["warrants_beyond"] >= threshold
    days_missing = round(retention["days_missing"])
    return {
        "threshold": threshold,
        "band": f"0-{threshold - 1}",
        "warrants": {
            **counts(warrants),
            "by_agency": [
                {"agency": row["agency"], "name": row["name"], **counts(row)} for row in warrants["by_agency"]
            ],
            "refused_signature_by_reason": {
                reason: band(n, threshold) for reason, n in warrants["refused_signature_by_reason"].items()
            },
        },
        "accounts": {
            **counts(accounts),
            "pseudonymised_bracket": bracket,
            "revealed_ratio": _ratio(accounts["revealed"], accounts["pseudonymised"], threshold),
        },
        "follow_ups": counts(raw["follow_ups"]),
        "notices": counts(raw["notices"]),
        "response": {
            "responses": band(response["responses"], threshold),
            "median_days": response["median_days"] if enough_responses else None,
        },
        "retention": {
            "warrants_beyond": band(retention["warrants_beyond"], threshold),
            "days_missing": band(days_missing, threshold) if enough_beyond else None,
        },
    }


def report(period: Period, *, threshold: int | None = None, now: dt.datetime | None = None) -> dict:
    """The published figures of ``period`` with what they are about: the body of every output."""
    now = now or timezone.now()
    return {
        "format": FORMAT,
        "period": period.as_dict(),
        "computed_at": now.isoformat(timespec="seconds"),
        "retention_days": settings.WARRANTDESK_RETENTION_DAYS,
        "figures": published(figures(period, now=now), threshold),
    }


# --- publishing ------------------------------------------------------------------------------------


def canonical(document: dict) -> bytes:
    """The exact bytes signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _audit_anchor() -> dict:
    """The audit checkpoint the report was computed against: a fresh signed checkpoint of the log
    (C2SP note), or, on an empty log, the chain head."""
    from warrantdesk import checkpoints
    from warrantdesk.models import AuditChainHead

    checkpoint = checkpoints.checkpoint_create(created_by="report")
    if checkpoint is not None:
        return {"kind": "checkpoint", "tree_size": checkpoint.tree_size, "note": checkpoint.note}
    head = AuditChainHead.objects.filter(pk=1).first()
    return {"kind": "chain_head", "seq": head.seq if head else 0, "hash": head.hash if head else ""}


def report_publish(*, period: Period, language: str, actor):
    """Freeze, sign and record a version of the report of ``period`` in ``language``.

    The signed document holds the published (banded) figures only, the audit checkpoint they were
    computed against, and what the version is; every output of the published version is rendered
    from it alone, so it renders identically later. Signed with the operator's Ed25519 key, whose
    public half is published apart (``/operator-key/``)."""
    from .models import PublishedReport

    body = report(period)
    anchor = _audit_anchor()
    with transaction.atomic(durable=True):
        version = PublishedReport.objects.select_for_update().filter(slug=period.slug).order_by("-version").first()
        number = (version.version if version else 0) + 1
        reference = f"{period.slug}-{number}"
        published_at = timezone.now()
        document = {
            **body,
            "reference": reference,
            "language": language,
            "published_at": published_at.isoformat(timespec="seconds"),
            "audit": anchor,
        }
        data = canonical(document)
        key = keys.operator_public_key()
        report_row = PublishedReport.objects.create(
            reference=reference,
            slug=period.slug,
            version=number,
            period_start=period.start,
            period_end=period.end,
            language=language,
            document=data.decode(),
            signature=keys.sign(data),
            key_fingerprint=keys.public_key_fingerprint(key),
            published_at=published_at,
            published_by=actor,
        )
        audit_record(
            action=AuditAction.REPORT_PUBLISHED,
            actor=actor,
            obj=report_row,
            details={"reference": reference, "period": period.slug, "language": language, "audit": anchor["kind"]},
        )
    return report_row


def signature_key(report_row) -> operator_keys.OperatorKey | None:
    """The operator key the stored document's signature verifies with, or None when it does not: the
    current key or a retired one (both published at ``/operator-key/``), the one whose fingerprint was
    recorded at publication; a report signed by any other key does not verify."""
    from cryptography.exceptions import InvalidSignature

    try:
        signature = base64.b64decode(report_row.signature, validate=True)
    except ValueError:
        return None
    for key in operator_keys.candidates(keys.verification_keys(), report_row.key_fingerprint):
        try:
            key.public_key.verify(signature, report_row.document.encode())
        except InvalidSignature:
            continue
        return key
    return None


def signature_valid(report_row) -> bool:
    """Whether the stored document still carries the operator's signature (``signature_key``)."""
    return signature_key(report_row) is not None
