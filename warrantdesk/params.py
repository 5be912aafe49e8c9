"""Query parameters and path ids: parsed in one place, refused with a message naming the field.

A list page's filters are a ``FilterForm``; the web view binds it with ``bind_filters`` and, when it
is invalid, renders the page with the form's errors and no results (status 400); the API calls
``api_filters`` and answers 400 with ``{"field": ["why"]}``. A path id goes through ``parse_id``
before it reaches the database. Nothing here is lenient on purpose: a date like 2026-02-30, an
unknown status or an id beyond 64 bits is a mistake to show, never a 500 and never silently
ignored (an ignored filter shows more than the user asked for, and they cannot tell).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

MAX_ID = 2**63 - 1  # BigAutoField (DEFAULT_AUTO_FIELD); larger numbers overflow the database driver


def parse_id(value: Any) -> int | None:
    """The database id a path segment or a parameter names, or None when it cannot name one
    (not ASCII digits, 0, or beyond 64 bits): callers answer 404 as for an id that does not exist."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


class IdChoiceField(forms.ModelChoiceField):
    """A model chosen by its id, with ids that cannot exist refused before any query."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if parse_id(value) is None:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class FlagField(forms.TypedChoiceField):
    """An on/off filter: "1" (a ticked checkbox) or "true" is on; "0", "false" or nothing is off."""

    def __init__(self, **kwargs):
        super().__init__(
            choices=[("1", "1"), ("0", "0"), ("true", "true"), ("false", "false")],
            coerce=lambda value: value in {"1", "true"},
            required=False,
            empty_value=False,
            **kwargs,
        )


class DateFilterField(forms.DateField):
    """A calendar date (YYYY-MM-DD) within years a deadline or an audit entry can have; outside them
    the conversion to UTC of the day's start or end would overflow."""

    FIRST, LAST = dt.date(1900, 1, 1), dt.date(9998, 12, 31)

    def validate(self, value):
        super().validate(value)
        if value is not None and not self.FIRST <= value <= self.LAST:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s.") % {"first": self.FIRST, "last": self.LAST},
                code="out_of_range",
            )


class PageField(forms.IntegerField):
    """A page number: 1 or more (past the last page the last one is shown)."""

    def __init__(self, **kwargs):
        super().__init__(label=_("Page"), min_value=1, required=False, **kwargs)


class FilterForm(forms.Form):
    """Base of every list's filters. Text fields refuse NUL bytes (Django's CharField does) and
    state their maximum length, so a long value is explained instead of cut silently."""

    id_format = "id_%s"  # the ids of the page's hand-written inputs, which the error summary links to

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", self.id_format)
        super().__init__(*args, **kwargs)

    def filters(self) -> dict[str, Any]:
        """The cleaned values without the page number (the paginator takes that)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "page"}


def filtered_by(form_class: type[FilterForm]):
    """Declare the form that parses a list view's query string. (The route-walking test of bad input
    reads it to know which parameters the route must refuse; API viewsets set ``filter_form``.)"""

    def decorate(view):
        view.filter_form = form_class
        return view

    return decorate


def error_text(form: forms.Form) -> str:
    """The form's errors as one line for a flash message: "Field: why. Other field: why." """
    parts = [str(error) for error in form.non_field_errors()]
    parts += [
        f"{form[name].label}: {error}" for name, errors in form.errors.items() if name != "__all__" for error in errors
    ]
    return " ".join(parts)


def bind_filters(form_class: type[FilterForm], query: QueryDict, **kwargs) -> FilterForm:
    """The filter form bound to the query string (validated on first use of ``is_valid()``)."""
    return form_class(query, **kwargs)


def api_filter_form(form_class: type[FilterForm], query: QueryDict, **kwargs) -> FilterForm:
    """The valid filter form of an API list, or a 400 naming each bad parameter."""
    form = form_class(query, **kwargs)
    if not form.is_valid():
        raise ValidationError({field: [str(error) for error in errors] for field, errors in form.errors.items()})
    return form


_OPENAPI_TYPES = {
    forms.DateField: OpenApiTypes.DATE,
    forms.IntegerField: OpenApiTypes.INT,
    IdChoiceField: OpenApiTypes.INT,
}


def openapi_parameters(form_class: type[FilterForm]) -> list[OpenApiParameter]:
    """The form's fields as documented query parameters (types, enums, length limits)."""
    parameters = []
    for name, field in form_class.base_fields.items():
        if name == "page":
            continue  # documented by the paginator
        kind = next((kind for cls, kind in _OPENAPI_TYPES.items() if isinstance(field, cls)), OpenApiTypes.STR)
        enum = None
        if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
            enum = [value for value, _label in field.choices if value != ""]
        parameters.append(
            OpenApiParameter(
                name,
                kind,
                OpenApiParameter.QUERY,
                required=False,
                enum=enum,
                description=str(field.help_text or field.label or ""),
            )
        )
    return parameters
