"""The follow-up request form: the signed document, its dates and the pseudonyms asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django import forms
from django.conf import settings
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from requests_app.dates import receipt_errors
from requests_app.forms import DATETIME_WIDGET
from requests_app.models import NOTE_MAX_LENGTH
from warrantdesk.dates import datetime_help

from . import services
from .aliases import Alias


def too_long(text: str) -> str:
    return _("At most %(max)d characters, please (this text has %(count)d).") % {
        "max": NOTE_MAX_LENGTH,
        "count": len(text),
    }


class FollowUpForm(forms.Form):
    """The signed request, its dates and the pseudonyms asked for, each with its own justification.

    Pseudonyms come from the alias table — a box ``pick`` ticked (its value is the pseudonym) and a
    justification ``why:<pseudonym>`` per row — or are pasted, one per line as
    ``pseudonym | why this person matters``. The rows are plain inputs, not form fields: a warrant
    may have thousands of pseudonymised participants, and only the ticked ones need to be sent.
    """

    document = forms.FileField(
        label=gettext_lazy("Signed request (PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
        help_text=gettext_lazy("Signed by a chief investigator of the agency. PDF only."),
    )
    signature = forms.FileField(
        label=gettext_lazy("Detached signature (.p7s)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".p7s,application/pkcs7-signature"}),
        help_text=gettext_lazy("Only if the agency signed outside the PDF."),
    )
    received_at = forms.DateTimeField(label=gettext_lazy("Received at"), widget=DATETIME_WIDGET)
    deadline = forms.DateTimeField(label=gettext_lazy("Deadline"), widget=DATETIME_WIDGET)
    pasted = forms.CharField(
        label=gettext_lazy("Other pseudonyms"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One per line: the pseudonym, a vertical bar |, then why this person matters. "
            "Example: p1.1a2b3c4d.mfrgg… | Arranged the handover on 3 March."
        ),
    )

    def __init__(self, *args, aliases: Sequence[Alias] = (), initial_picks: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial_picks = dict(initial_picks or {})  # unbound: rows shown ticked with these justifications
        for name in ("received_at", "deadline"):
            self.fields[name].help_text = datetime_help()  # input formats: warrantdesk/formats
        self.aliases = list(aliases)
        self.row_errors: dict[str, dict[str, str]] = {}

    def _picked(self) -> list[str]:
        if not self.is_bound:
            return list(self.initial_picks)
        posted = cast(MultiValueDict, self.data)  # bound to request.POST (a QueryDict): ticked rows repeat "pick"
        return list(dict.fromkeys(posted.getlist("pick")))

    def _why(self, token: str) -> str:
        return self.data.get(f"why:{token}", "").strip() if self.is_bound else self.initial_picks.get(token, "")

    @property
    def rows(self) -> list[dict]:
        """Plain strings only: the template renders thousands of rows on a large warrant."""
        picked = set(self._picked())
        why_label = _("Why %(alias)s matters")
        return [
            {
                "index": str(index),
                "token": alias.token,
                "alias": alias.alias,
                "short": alias.short,
                "messages": str(alias.messages),
                "picked": alias.token in picked,
                "why": self._why(alias.token),
                "why_label": why_label % {"alias": alias.alias},
                "search": f"{alias.alias.lower()} {alias.token}",
                "pick_error": self.row_errors.get(alias.token, {}).get("pick", ""),
                "why_error": self.row_errors.get(alias.token, {}).get("why", ""),
            }
            for index, alias in enumerate(self.aliases, start=1)
        ]

    @property
    def row_error_list(self) -> list[dict]:
        """The rows' errors for the summary: where each is and what it says."""
        return [
            {"anchor": f"{kind}-{row['index']}", "alias": row["alias"], "message": row[f"{kind}_error"]}
            for row in self.rows
            for kind in ("pick", "why")
            if row[f"{kind}_error"]
        ]

    def _row_error(self, token: str, kind: str, message: str) -> None:
        self.row_errors.setdefault(token, {})[kind] = message

    def _pasted_tokens(self) -> list[services.TokenInput]:
        tokens, problems = [], []
        for number, line in enumerate(self.cleaned_data.get("pasted", "").splitlines(), start=1):
            if not line.strip():
                continue
            token, bar, why = line.partition("|")
            token, why = token.strip(), why.strip()
            if not token:
                problems.append(_("Line %(n)d: the pseudonym is missing before the bar.") % {"n": number})
            elif not bar or not why:
                problems.append(
                    _("Line %(n)d: write | and why this person matters after the pseudonym.") % {"n": number}
                )
            elif len(why) > NOTE_MAX_LENGTH:
                problems.append(_("Line %(n)d: %(problem)s") % {"n": number, "problem": too_long(why)})
            else:
                tokens.append(services.TokenInput(token, why))
        for problem in problems:
            self.add_error("pasted", problem)
        return tokens

    def clean(self):
        cleaned = super().clean()
        received, deadline = cleaned.get("received_at"), cleaned.get("deadline")
        for field, message in receipt_errors(received_at=received, deadline=deadline, what="request").items():
            self.add_error(field, message)
        picked = self._picked()
        offered = {alias.token for alias in self.aliases}
        tokens = []
        for token in picked:
            if not (why := self._why(token)):
                self._row_error(token, "why", _("Say why this person matters."))
            elif len(why) > NOTE_MAX_LENGTH:
                self._row_error(token, "why", too_long(why))
            else:
                tokens.append(services.TokenInput(token, why))
        for token in offered - set(picked):
            if self._why(token):
                self._row_error(token, "pick", _("Tick this pseudonym to ask for it, or clear its justification."))
        tokens += self._pasted_tokens()
        seen = set()
        for item in tokens:
            if item.token in seen:
                self.add_error("pasted", _("%(token)s is named twice.") % {"token": item.token})
            seen.add(item.token)
        if self.row_errors:
            self.add_error(None, _("Some pseudonyms of the table need your attention: see the marked rows."))
        elif not tokens and not self.has_error("pasted"):
            self.add_error(None, _("Name at least one pseudonym: tick it in the table or paste it."))
        cap = settings.WARRANTDESK_FOLLOWUP_MAX_TOKENS
        if len(tokens) > cap:
            self.add_error(
                None,
                _("A follow-up request may name at most %(cap)d pseudonyms; this one names %(count)d.")
                % {"cap": cap, "count": len(tokens)},
            )
        cleaned["tokens"] = tokens
        return cleaned
