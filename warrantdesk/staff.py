"""Staff accounts from the command line (``manage.py create_staff``): a user of the legal team with
its roles, so that no one needs ``/admin/`` or the demo data for that.

One service, ``staff_save``: creates the user (or, asked explicitly, updates an existing one), gives
it exactly the roles named (groups of ``warrantdesk.roles``), checks the password with Django's
password validators, and writes one ``role.changed`` audit entry in the same transaction, with the
same details the audited user admin writes (never the password, of course).
"""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .audit import audit_record
from .exceptions import Conflict, DomainError
from .models import AuditAction
from .roles import Role, sync_roles


def role_from_name(name: str) -> Role:
    """ "reviewer", "Reviewer", "intake-officer", "INTAKE_OFFICER", "Intake officer": one role.
    Raises ``DomainError`` naming the roles when the name is none of them."""
    key = " ".join(name.replace("-", " ").replace("_", " ").split()).lower()
    for role in Role:
        if key in {role.value.lower(), role.name.replace("_", " ").lower()}:
            return role
    known = ", ".join(role.name.lower().replace("_", "-") for role in Role)
    raise DomainError(f"unknown role {name!r}: one of {known}", code="unknown_role")


@transaction.atomic(durable=True)
def staff_save(
    *,
    username: str,
    roles: list[Role],
    password: str | None,
    email: str | None = None,
    name: str | None = None,
    update: bool = False,
    actor=None,
):
    """Create the staff user ``username`` with exactly ``roles``, or with ``update`` change an existing
    one (roles replaced; email, name and password changed only when given). Returns (user, created).

    Refuses an existing user without ``update`` (``Conflict``), a new user without a password, and a
    password Django's validators refuse (``ValidationError`` with their messages). Administrators get
    ``is_staff`` (the registry in ``/admin/``); nobody gets ``is_superuser`` here.
    """
    User = get_user_model()
    if not roles:
        raise DomainError("give at least one role (--role)", code="role_required")
    user = User.objects.select_for_update().filter(username=username).first()
    created = user is None
    if not created and not update:
        raise Conflict(f"the user {username!r} exists already: give --update to change it", code="user_exists")
    if created:
        user = User(username=username)
        try:
            if not username.strip():
                raise ValidationError("the user name is empty")
            User._meta.get_field("username").run_validators(username)
        except ValidationError as exc:
            raise DomainError(f"user name {username!r}: {' '.join(exc.messages)}", code="bad_username") from exc
        if not password:
            raise DomainError("a new user needs a password", code="password_required")
    assert user is not None, "found above, or made just now"
    before = [] if created else sorted(user.groups.values_list("name", flat=True))
    changed = []
    if email is not None and email != user.email:
        user.email = User.objects.normalize_email(email.strip())
        try:
            if user.email:
                validate_email(user.email)
        except ValidationError as exc:
            raise DomainError(f"e-mail address: {' '.join(exc.messages)}", code="bad_email") from exc
        changed.append("email")
    if name is not None:
        first, _sep, last = name.strip().partition(" ")
        if (first, last.strip()) != (user.first_name, user.last_name):
            user.first_name, user.last_name = first, last.strip()
            changed += ["first_name", "last_name"]
    staff = Role.ADMINISTRATOR in roles
    if user.is_staff != staff:
        user.is_staff = staff
        changed.append("is_staff")
    if password:
        password_validation.validate_password(password, user=user)
        user.set_password(password)
        changed.append("password")
    user.save()
    sync_roles()
    role_groups = Group.objects.filter(name__in=[role.value for role in Role])
    user.groups.remove(*role_groups.exclude(name__in=[role.value for role in roles]))
    user.groups.add(*role_groups.filter(name__in=[role.value for role in roles]))
    after = sorted(user.groups.values_list("name", flat=True))
    audit_record(
        action=AuditAction.ROLE_CHANGED,
        actor=actor,
        actor_label=None if actor is not None else f"cli:{getpass.getuser()}",
        obj=user,
        details={
            "op": "add" if created else "change",
            "user": user.get_username(),
            "fields": sorted(set(changed)),
            "roles_before": before,
            "roles_after": after,
            "superuser": user.is_superuser,
            "active": user.is_active,
            "via": "create_staff",
        },
    )
    return user, created
