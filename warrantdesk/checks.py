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
