from .roles import Role, user_roles


def roles(request) -> dict:
    found = user_roles(request.user) if hasattr(request, "user") else set()
    return {
        "user_roles": sorted(role.value for role in found),
        "is_auditor": Role.AUDITOR in found or Role.ADMINISTRATOR in found,
    }
