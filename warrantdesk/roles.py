"""Roles are Django groups with model-level permissions; cases are granted per object (guardian).

A permission on a warrant needs both: the role's model permission (what kind of work a person
does) and the object permission ``view_warrant`` on that warrant (that the case is assigned to
them). Administrators hold ``view_warrant`` globally and so see every case.
"""

import contextlib
from enum import StrEnum

from django.contrib.auth.models import Group, Permission


class Role(StrEnum):
    INTAKE_OFFICER = "Intake officer"
    REVIEWER = "Reviewer"
    AUDITOR = "Auditor"
    ADMINISTRATOR = "Administrator"


ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.INTAKE_OFFICER: (
        "requests_app.add_warrant",
        "requests_app.assign_warrant",
        "requests_app.add_document",
        "requests_app.view_agency",
    ),
    Role.REVIEWER: (
        "requests_app.review_warrant",
        "requests_app.view_agency",
    ),
    Role.AUDITOR: ("warrantdesk.view_auditentry",),
    Role.ADMINISTRATOR: (
        "requests_app.view_warrant",
        "requests_app.add_warrant",
        "requests_app.assign_warrant",
        "requests_app.add_document",
        "requests_app.review_warrant",
        "requests_app.view_agency",
        "requests_app.add_agency",
        "requests_app.change_agency",
        "requests_app.view_investigator",
        "requests_app.add_investigator",
        "requests_app.change_investigator",
        "warrantdesk.view_auditentry",
    ),
}


def sync_roles() -> None:
    """Create the role groups and give them exactly their permissions (idempotent)."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        permissions = []
        for code in codes:
            app_label, codename = code.split(".")
            permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(permissions)


def sync_roles_after_migrate(**kwargs) -> None:
    # post_migrate fires once per app; the groups can be built once every permission exists.
    with contextlib.suppress(Permission.DoesNotExist):
        sync_roles()


# A page asks for the roles of its user several times (menu, panels, permissions): read once a user
# object, that is once a request, and forgotten when the user's groups change (``forget_roles``).
_ROLES_CACHE = "_warrantdesk_roles"


def user_roles(user) -> set[Role]:
    if not user.is_authenticated:
        return set()
    roles = user.__dict__.get(_ROLES_CACHE)
    if roles is None:
        names = {group.name for group in user.groups.all()}
        roles = frozenset(role for role in Role if role.value in names)
        user.__dict__[_ROLES_CACHE] = roles
    return set(roles) | {Role.ADMINISTRATOR} if user.is_superuser else set(roles)


def forget_roles(sender, instance, **kwargs) -> None:
    """``m2m_changed`` of the users' groups: the changed user object reads its roles again."""
    if hasattr(instance, "__dict__"):
        instance.__dict__.pop(_ROLES_CACHE, None)


def is_auditor_only(user) -> bool:
    """An auditor who does no other work here: reads every case's process, changes nothing, takes no
    file of a case (an auditor who is also an officer or an administrator works under those roles)."""
    roles = user_roles(user)
    return Role.AUDITOR in roles and not roles & {Role.INTAKE_OFFICER, Role.REVIEWER, Role.ADMINISTRATOR}
