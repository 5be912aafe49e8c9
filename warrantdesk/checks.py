"""System checks of the deployment (run by runserver, migrate and ``manage.py check``)."""

import os
from pathlib import Path

from django.core import checks

KEY_FILES = ("WARRANTDESK_KEK_FILE", "WARRANTDESK_SIGNING_KEY_FILE")


@checks.register(checks.Tags.security, deploy=False)
def key_files_exist(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A key file named in the environment must exist: settings read it as unset until then (so that
    ``init_local_keys`` can create it), and no export could be made or signed without it."""
    errors: list[checks.CheckMessage] = []
    for name in KEY_FILES:
        path = os.environ.get(name, "")
        if path and not os.environ.get(name.removesuffix("_FILE")) and not Path(path).exists():
            errors.append(
                checks.Error(
                    f"{name} names {path}, which does not exist.",
                    hint="Create it with `manage.py init_local_keys` (local use) or from your secret store.",
                    id="warrantdesk.E001",
                )
            )
    return errors


@checks.register(checks.Tags.security, deploy=False)
def current_key_not_retired(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The current signing key listed among the retired ones is a rotation half done: the new key was
    not put in place (or the old one is back)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from django.conf import settings

    from . import operator_keys

    pem = getattr(settings, "WARRANTDESK_SIGNING_KEY", "")
    if not pem:
        return []
    try:
        current = operator_keys.OperatorKey.of(
            serialization.load_pem_private_key(pem.encode(), password=None).public_key()  # type: ignore[arg-type]
        )
        retired = operator_keys.retired_keys()
    except (ValueError, TypeError, UnsupportedAlgorithm, AttributeError):
        return []  # reported where the key is used
    if operator_keys.find(retired, current.fingerprint) is None:
        return []
    return [
        checks.Warning(
            f"The current signing key (SHA-256 {current.fingerprint_grouped}) is also listed in "
            f"{operator_keys.SETTING} as retired.",
            hint='Put the new key in WARRANTDESK_SIGNING_KEY_FILE (README "Rotating keys"), or remove the '
            "current key from the retired keys.",
            id="warrantdesk.W001",
        )
    ]
