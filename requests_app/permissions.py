"""Per-case permissions: a role's model permission plus the case assigned (guardian object permission)."""

VIEW = "requests_app.view_warrant"


def can_view(user, warrant) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(VIEW) or user.has_perm(VIEW, warrant)


def can(user, permission: str, warrant) -> bool:
    """May ``user`` do work needing ``permission`` on this particular case?"""
    return can_view(user, warrant) and user.has_perm(permission)


def can_recheck_signature(user, warrant) -> bool:
    """May ``user`` have a signature of this case (the warrant's, a follow-up request's) checked again?"""
    return can(user, "requests_app.add_document", warrant) or can(user, "requests_app.review_warrant", warrant)
