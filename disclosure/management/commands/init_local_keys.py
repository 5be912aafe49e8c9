import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management.base import BaseCommand


def _write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 (never overwrite), its missing directories with mode 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _new_kek() -> bytes:
    return base64.b64encode(secrets.token_bytes(32)) + b"\n"


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Command(BaseCommand):
    help = (
        "For local use (make run): create a key-encryption key and an operator signing key (mode 0600) unless "
        "they exist, and print their paths: where WARRANTDESK_KEK_FILE / WARRANTDESK_SIGNING_KEY_FILE say, "
        "else in the data directory. A key given directly (WARRANTDESK_KEK, WARRANTDESK_SIGNING_KEY) is left "
        "alone. Production sets them from its secret store instead."
    )
    # The key files may not exist yet: the check that refuses to start without them must not stop this.
    requires_system_checks: list = []

    def handle(self, *args, **options):
        var = Path(settings.VAR_DIR)
        keys = [
            ("WARRANTDESK_KEK", var / "kek", _new_kek),
            ("WARRANTDESK_SIGNING_KEY", var / "operator-signing-key.pem", _new_signing_key),
        ]
        for name, default, make in keys:
            if os.environ.get(name):
                continue
            path = Path(os.environ.get(f"{name}_FILE") or default)
            if not path.exists():
                _write_secret(path, make())
            self.stdout.write(f"{name}_FILE={path}")
