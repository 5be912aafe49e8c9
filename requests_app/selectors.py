"""Reads, always filtered by what the user may see."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, F, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_users_with_perms

from warrantdesk.params import parse_id
from warrantdesk.roles import Role

from .models import Document, SignatureCheck, Warrant, WarrantTarget
from .permissions import VIEW, remembered


def warrant_list_visible_to(*, user) -> QuerySet[Warrant]:
    """Warrants assigned to ``user`` (object permission) or all of them for administrators."""
    if not user.is_authenticated or not user.is_active:
        return Warrant.objects.none()
    visible = remembered(user, "visible", lambda: _visible(user))
    # A correlated count, added after guardian's filter: a GROUP BY here would make the database
    # group every visible warrant (twice, inside guardian's subquery) to return one page.
    targets = WarrantTarget.objects.filter(warrant=OuterRef("pk")).order_by().values("warrant")
    return visible.select_related("agency").annotate(
        target_count=Subquery(targets.annotate(n=Func(F("pk"), function="COUNT")).values("n"))
    )


def _visible(user) -> QuerySet[Warrant]:
    """What guardian's ``get_objects_for_user(user, VIEW, klass=Warrant, accept_global_perms=True,
    with_superuser=True)`` answers, asked so that the database can use the warrants' primary key: guardian
    keeps object ids as text and compares ``warrant.id::varchar`` with them, which reads every warrant (a
    sequential scan of the whole table for each page and its count); here the user's few granted ids are
    cast to integers instead. Built without guardian's per-call look-ups (~3 ms a request)."""
    if user.is_superuser or user.has_perm(VIEW):
        return Warrant.objects.all()
    granted = Q(permission__codename="view_warrant", content_type=ContentType.objects.get_for_model(Warrant))

    def ids(permissions: QuerySet) -> QuerySet:
        return permissions.annotate(warrant_id=Cast("object_pk", BigIntegerField())).values("warrant_id")

    return Warrant.objects.filter(
        Q(pk__in=ids(UserObjectPermission.objects.filter(granted, user=user)))
        | Q(pk__in=ids(GroupObjectPermission.objects.filter(granted, group__user=user)))
    )


def warrant_list_filtered(
    *,
    user,
    status: str = "",
    agency_id: int | None = None,
    deadline_before: dt.date | None = None,
    overdue: bool = False,
    emergency: bool = False,
    search: str = "",
) -> QuerySet[Warrant]:
    warrants = warrant_list_visible_to(user=user)
    if status:
        warrants = warrants.filter(status=status)
    if agency_id:
        warrants = warrants.filter(agency_id=agency_id)
    if deadline_before:
        end = timezone.make_aware(dt.datetime.combine(deadline_before, dt.time.max))
        warrants = warrants.filter(deadline__lte=end)
    if overdue:
        warrants = warrants.overdue()
    if emergency:
        warrants = warrants.filter(kind=Warrant.Kind.EMERGENCY)
    if search:
        warrants = warrants.filter(
            Q(reference__icontains=search) | Q(warrant_number__icontains=search) | Q(case_number__icontains=search)
        )
    return warrants


def warrant_get_visible(*, user, pk) -> Warrant | None:
    ident = parse_id(pk)
    if ident is None:
        return None
    return warrant_list_visible_to(user=user).filter(pk=ident).first()


def document_get_visible(*, user, pk) -> Document | None:
    if parse_id(pk) is None:
        return None
    visible = warrant_list_visible_to(user=user).values("pk")
    return Document.objects.select_related("warrant").filter(pk=pk, warrant__in=visible).first()


def warrant_signature_checks(*, warrant: Warrant) -> QuerySet[SignatureCheck]:
    """Every signature check of the warrant's own documents, newest first.

    A follow-up request's document hangs off the warrant too, but its checks belong to the
    follow-up request's panel, not to the warrant's signature history.
    """
    return (
        SignatureCheck.objects.filter(document__warrant=warrant)
        .exclude(document__kind=Document.Kind.FOLLOW_UP)
        .select_related("document", "investigator", "checked_by")
        .order_by("-checked_at", "-pk")
    )


def warrant_officers(*, warrant: Warrant) -> list:
    return sorted(
        get_users_with_perms(warrant, only_with_perms_in=["view_warrant"], with_group_users=False),
        key=lambda user: user.get_username(),
    )


def warrant_assignable_officers(*, warrant: Warrant) -> list:
    """Colleagues who may be given access to this case: active intake officers and reviewers not yet
    assigned to it. Auditors never work on a case; administrators already see every case."""
    assigned = {user.pk for user in warrant_officers(warrant=warrant)}
    candidates = (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.INTAKE_OFFICER.value, Role.REVIEWER.value])
        .exclude(Q(is_superuser=True) | Q(groups__name=Role.ADMINISTRATOR.value))
        .exclude(pk__in=assigned)
        .distinct()
        .prefetch_related("groups")
        .order_by("first_name", "last_name", "username")
    )
    return list(candidates)


AUDIT_PERMISSION = "warrantdesk.view_auditentry"


def warrant_for_audit(*, user, reference: str) -> Warrant | None:
    """The warrant an auditor reads the history of, by its reference (None for anyone else).

    Auditors are assigned no case: they read every case's process (who did what, when), never its
    content, so the page built on this shows no target, note, document or package."""
    if not user.is_authenticated or not user.is_active or not user.has_perm(AUDIT_PERMISSION):
        return None
    if not reference or len(reference) > 32:
        return None
    return Warrant.objects.select_related("agency", "created_by", "approved_by").filter(reference=reference).first()
