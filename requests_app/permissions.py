"""Per-case permissions: a role's model permission plus the case assigned (guardian object permission)."""

VIEW = "requests_app.view_warrant"
# Guardian asks the database twice on each object check (a new ObjectPermissionChecker a call) and a case
# page asks about its case a dozen times (panels, buttons, links). The answers are kept on the user object
# for its request, as Django's ModelBackend keeps the model permissions (``_perm_cache``), and so is the
# queryset of the cases one may see (guardian builds it with several look-ups); the services that give a
# case to someone forget them (``forget_case_permissions``).
_CASE_CACHE = "_warrantdesk_case_view"


def can_view(user, warrant) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm(VIEW):
        return True
    return remembered(user, f"view:{warrant.pk}", lambda: user.has_perm(VIEW, warrant))


def remembered(user, key: str, compute):
    """``compute()``, kept on the user object for the rest of its request under ``key``: an answer about
    the user's cases (forgotten by ``forget_case_permissions``)."""
    known = user.__dict__.setdefault(_CASE_CACHE, {})
    if key not in known:
        known[key] = compute()
    return known[key]


def forget_case_permissions(user) -> None:
    """Drop what ``can_view`` remembered for ``user`` (after a case was given to or taken from them)."""
    user.__dict__.pop(_CASE_CACHE, None)


def can(user, permission: str, warrant) -> bool:
    """May ``user`` do work needing ``permission`` on this particular case?"""
    return can_view(user, warrant) and user.has_perm(permission)


def can_recheck_signature(user, warrant) -> bool:
    """May ``user`` have a signature of this case (the warrant's, a follow-up request's) checked again?"""
    return can(user, "requests_app.add_document", warrant) or can(user, "requests_app.review_warrant", warrant)
