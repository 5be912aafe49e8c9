"""The transparency report's pages: computed for auditors and administrators, published (signed)
by an administrator, and served without login once published.

Publishing is an administrator's act, not an auditor's: the report is the operator's public
statement, signed with the operator's key, and auditors are read-only everywhere (the route walk of
tests/test_routes_auditor.py holds them to it); the auditor checks the published figures against the
case data and the audit checkpoint embedded in them.
"""

from __future__ import annotations

import csv
import io
import json

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from disclosure import keys
from requests_app.models import SignatureOutcome
from warrantdesk.access import deny
from warrantdesk.params import DateFilterField, FilterForm, filtered_by
from warrantdesk.roles import Role, user_roles

from . import report, report_charts, selectors
from .models import PublishedReport

LANGUAGES = ("en", "ko")


def _is_admin(user) -> bool:
    return Role.ADMINISTRATOR in user_roles(user)


def _reader_only(request: HttpRequest) -> None:
    if not (selectors.is_auditor(request.user) or _is_admin(request.user)):
        raise deny(request.user, object_type="transparency-report", object_id="", path=request.path)


class PeriodForm(FilterForm):
    """The period (and language) of a report, from the query string; the report views parse it before
    computing anything, and the bad-input route walk reads it (``filtered_by``) to know what they refuse.
    Days are ``DateFilterField``s: a day outside 1900-9998 would overflow the conversion to UTC."""

    year = forms.IntegerField(min_value=2000, max_value=2100, required=False)
    half = forms.TypedChoiceField(choices=[("1", "H1"), ("2", "H2")], coerce=int, required=False)
    start = DateFilterField(required=False, label=gettext_lazy("From"))
    end = DateFilterField(required=False, label=gettext_lazy("Until"))
    lang = forms.ChoiceField(choices=[(code, code) for code in LANGUAGES], required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if bool(start) != bool(end):
            raise forms.ValidationError(_("Give both the first and the last day of the period."))
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (end - start).days > 366 * 10:
                raise forms.ValidationError(_("A report covers at most ten years."))
            cleaned["period"] = report.Period(start, end)
        elif cleaned.get("year") and cleaned.get("half"):
            cleaned["period"] = report.Period.half_year(cleaned["year"], cleaned["half"])
        else:
            cleaned["period"] = report.Period.containing(timezone.localdate())
        cleaned["language"] = cleaned.get("lang") or translation.get_language()[:2]
        if cleaned["language"] not in LANGUAGES:
            cleaned["language"] = "en"
        return cleaned


def labels() -> dict[str, str]:
    """Every label of the report, in the active language."""
    return {
        "title": _("Transparency report"),
        "period": _("Period"),
        "warrants": _("Warrants"),
        "people": _("People"),
        "received": _("Warrants received"),
        "ordinary": _("Ordinary"),
        "emergency": _("Emergency"),
        "total": _("Total"),
        "agency": _("Agency"),
        "honoured": _("Honoured (delivered)"),
        "refused_signature": _("Refused: signature failed"),
        "refused_legal": _("Refused on legal grounds"),
        "open": _("Still open"),
        "reason": _("Reason"),
        "targets_named": _("Target identifiers named"),
        "target_accounts": _("Target accounts disclosed"),
        "pseudonymised": _("Non-target participants disclosed only as pseudonyms"),
        "revealed": _("Later revealed on a follow-up request"),
        "still_pseudonymous": _("Still pseudonymous"),
        "pseudonymised_bracket": _("Pseudonymised (revealed)"),
        "revealed_ratio": _("Share revealed"),
        "requests": _("Follow-up requests"),
        "requests_approved": _("Follow-up requests approved (at least one pseudonym)"),
        "requests_refused": _("Follow-up requests refused"),
        "requests_pending": _("Follow-up requests pending"),
        "tokens": _("Pseudonyms asked for"),
        "tokens_approved": _("Pseudonyms approved"),
        "tokens_refused": _("Pseudonyms refused"),
        "tokens_pending": _("Pseudonyms pending"),
        "owed": _("Notices owed"),
        "sent": _("Notices sent"),
        "deferred": _("Notices deferred"),
        "overdue": _("Notices overdue"),
        "responses": _("Warrants answered"),
        "median_days": _("Median days from receipt to response"),
        "warrants_beyond": _("Warrants whose period reached beyond retention"),
        "days_missing": _("Days of requested data that no longer existed"),
        "chart_agencies": _("Warrants received by agency"),
        "chart_outcomes": _("What became of them"),
        "chart_people": _("Non-target participants"),
        "band_note": _(
            "Counts below %(threshold)s are shown as the band %(band)s so that no single case can be recognised; "
            "a figure derived from a banded count is shown as a range or withheld (–)."
        ),
        "scope_note": _(
            "Counted over the warrants received in the period, as the data stood when the report was computed; "
            "follow-up requests by their own date of receipt."
        ),
        "computed_at": _("Computed at"),
        "published_at": _("Published at"),
        "signature": _("Signature"),
        "audit_anchor": _("Audit log checkpoint"),
    }


def _context(body: dict, language: str) -> dict:
    with translation.override(language):
        names = labels()
        figures = body["figures"]
        reasons = [
            (str(SignatureOutcome(code).label) if code in SignatureOutcome.values else code, count)
            for code, count in figures["warrants"]["refused_signature_by_reason"].items()
        ]
        names["band_note"] = names["band_note"] % {"threshold": figures["threshold"], "band": figures["band"]}
        charts = report_charts.charts(figures, names)
        sections = _sections(figures, names)
    period = report.Period.from_slug(body["period"]["slug"])
    return {
        "body": body,
        "figures": figures,
        "labels": names,
        "reasons": reasons,
        "charts": charts,
        "sections": sections,
        "period_label": period.label if period else body["period"]["slug"],
        "language": language,
    }


def _sections(figures: dict, names: dict) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The figures as (section, [(key, label, shown value)]) rows: the table of every output."""
    show = report.display

    def rows(section: str, keys: list[str]) -> list[tuple[str, str, str]]:
        return [(f"{section}.{key}", names[key], show(figures[section][key])) for key in keys]

    return [
        (
            names["warrants"],
            rows(
                "warrants",
                ["received", "ordinary", "emergency", "honoured", "refused_signature", "refused_legal", "open"],
            ),
        ),
        (
            names["people"],
            [
                *rows(
                    "accounts", ["targets_named", "target_accounts", "pseudonymised", "revealed", "still_pseudonymous"]
                ),
                (
                    "accounts.pseudonymised_bracket",
                    names["pseudonymised_bracket"],
                    figures["accounts"]["pseudonymised_bracket"],
                ),
                ("accounts.revealed_ratio", names["revealed_ratio"], show(figures["accounts"]["revealed_ratio"])),
            ],
        ),
        (
            names["requests"],
            rows(
                "follow_ups",
                [
                    "requests",
                    "requests_approved",
                    "requests_refused",
                    "requests_pending",
                    "tokens",
                    "tokens_approved",
                    "tokens_refused",
                    "tokens_pending",
                ],
            ),
        ),
        (names["owed"], rows("notices", ["owed", "sent", "deferred", "overdue"])),
        (names["responses"], rows("response", ["responses", "median_days"])),
        (names["warrants_beyond"], rows("retention", ["warrants_beyond", "days_missing"])),
    ]


def render_csv(body: dict, language: str) -> str:
    context = _context(body, language)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "label", "value"])
    writer.writerow(["period", context["labels"]["period"], context["period_label"]])
    for _section, rows in context["sections"]:
        writer.writerows(rows)
    for row in body["figures"]["warrants"]["by_agency"]:
        for kind in ("ordinary", "emergency", "total"):
            writer.writerow(
                [
                    f"warrants.by_agency.{row['agency']}.{kind}",
                    f"{row['name']}: {context['labels'][kind]}",
                    report.display(row[kind]),
                ]
            )
    for code, count in body["figures"]["warrants"]["refused_signature_by_reason"].items():
        writer.writerow([f"warrants.refused_signature_by_reason.{code}", code, report.display(count)])
    return out.getvalue()


def render_html_document(body: dict, language: str, *, extra: dict | None = None) -> str:
    """The standalone report (inline CSS and SVG, nothing fetched): what the PDF is made of."""
    with translation.override(language):
        return render_to_string("oversight/report/pdf.html", {**_context(body, language), **(extra or {})})


def render_pdf(body: dict, language: str, *, extra: dict | None = None) -> bytes:
    from disclosure.exports.pdf import write_pdf

    pdf = write_pdf(render_html_document(body, language, extra=extra))
    assert pdf is not None
    return pdf


def _download(content: bytes | str, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _parsed(request: HttpRequest) -> tuple[report.Period, str] | HttpResponse:
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors))
    return form.cleaned_data["period"], form.cleaned_data["language"]


# --- for auditors and administrators ---------------------------------------------------------------


@filtered_by(PeriodForm)
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    _reader_only(request)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return render(request, "oversight/report/page.html", {"form": form}, status=400)
    period, language = form.cleaned_data["period"], form.cleaned_data["language"]
    body = report.report(period)
    query = urlencode({"start": period.start.isoformat(), "end": period.end.isoformat(), "lang": language})
    return render(
        request,
        "oversight/report/page.html",
        {
            "form": form,
            "period": period,
            "query": query,
            "can_publish": _is_admin(request.user),
            "published": PublishedReport.objects.filter(slug=period.slug),
            **_context(body, language),
        },
    )


@filtered_by(PeriodForm)
@require_GET
def report_json(request: HttpRequest) -> HttpResponse:
    _reader_only(request)
    parsed = _parsed(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    period, _language = parsed
    text = json.dumps(report.report(period), ensure_ascii=False, indent=2)
    return HttpResponse(text, content_type="application/json; charset=utf-8")


@filtered_by(PeriodForm)
@require_GET
def report_csv(request: HttpRequest) -> HttpResponse:
    _reader_only(request)
    parsed = _parsed(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    period, language = parsed
    return _download(
        render_csv(report.report(period), language), "text/csv; charset=utf-8", f"transparency-{period.slug}.csv"
    )


@filtered_by(PeriodForm)
@require_GET
def report_pdf(request: HttpRequest) -> HttpResponse:
    _reader_only(request)
    parsed = _parsed(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    period, language = parsed
    return _download(render_pdf(report.report(period), language), "application/pdf", f"transparency-{period.slug}.pdf")


@require_POST
def report_publish(request: HttpRequest) -> HttpResponse:
    if not _is_admin(request.user):
        raise deny(request.user, object_type="transparency-report", object_id="", path=request.path)
    form = PeriodForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors))
    published = report.report_publish(
        period=form.cleaned_data["period"], language=form.cleaned_data["language"], actor=request.user
    )
    return redirect("transparency-report", reference=published.reference)


# --- public: published versions, no login ----------------------------------------------------------


def _published(reference: str) -> PublishedReport:
    """A version by its reference (``2026-h1-2``), or the latest version of a period (``2026-h1``)."""
    if len(reference) > 64:
        raise Http404
    found = PublishedReport.objects.filter(reference=reference).first()
    if found is None and report.Period.from_slug(reference) is not None:
        found = PublishedReport.objects.filter(slug=reference).order_by("-version").first()
    if found is None:
        raise Http404
    return found


def _public_extra(published: PublishedReport) -> tuple[dict, dict]:
    body = json.loads(published.document)
    signer = report.signature_key(published)
    key_pem_url = reverse("operator-key-pem")
    if signer is not None and not signer.current:
        key_pem_url += f"?fingerprint={signer.fingerprint}"
    return body, {
        "published": published,
        "signature_valid": signer is not None,
        "signer": signer,
        "fingerprint": keys.format_fingerprint(published.key_fingerprint),
        "key_pem_url": key_pem_url,
        "key_pem_name": (
            f"operator-public-key-retired-{signer.fingerprint[:16]}.pem"
            if signer is not None and not signer.current
            else "operator-public-key.pem"
        ),
    }


@login_not_required
@require_GET
def transparency_list(request: HttpRequest) -> HttpResponse:
    return render(request, "oversight/report/list.html", {"reports": PublishedReport.objects.all()[:200]})


@login_not_required
@require_GET
def transparency_report(request: HttpRequest, reference: str) -> HttpResponse:
    published = _published(reference)
    body, extra = _public_extra(published)
    return render(request, "oversight/report/public.html", {**_context(body, published.language), **extra})


@login_not_required
@require_GET
def transparency_json(request: HttpRequest, reference: str) -> HttpResponse:
    """The signed document, byte for byte (verify it with ``report.sig`` and the operator's key)."""
    published = _published(reference)
    return HttpResponse(published.document.encode(), content_type="application/json; charset=utf-8")


@login_not_required
@require_GET
def transparency_signature(request: HttpRequest, reference: str) -> HttpResponse:
    """The raw 64-byte Ed25519 signature over ``report.json``."""
    import base64

    published = _published(reference)
    return _download(base64.b64decode(published.signature), "application/octet-stream", f"{published.reference}.sig")


@login_not_required
@require_GET
def transparency_csv(request: HttpRequest, reference: str) -> HttpResponse:
    published = _published(reference)
    body = json.loads(published.document)
    return _download(render_csv(body, published.language), "text/csv; charset=utf-8", f"{published.reference}.csv")


@login_not_required
@require_GET
def transparency_pdf(request: HttpRequest, reference: str) -> HttpResponse:
    published = _published(reference)
    body, extra = _public_extra(published)
    extra["key_url"] = request.build_absolute_uri(extra["key_pem_url"])
    return _download(render_pdf(body, published.language, extra=extra), "application/pdf", f"{published.reference}.pdf")
