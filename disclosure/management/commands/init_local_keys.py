import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management.base import BaseCommand


def _write_secret(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


class Command(BaseCommand):
    help = (
        "For local use (make run): create a key-encryption key and an operator signing key in the data "
        "directory (mode 0600) unless they exist, and print their paths. Production sets WARRANTDESK_KEK and "
        "WARRANTDESK_SIGNING_KEY (or *_FILE) from its secret store instead."
    )

    def handle(self, *args, **options):
        var = Path(settings.VAR_DIR)
        kek, signing = var / "kek", var / "operator-signing-key.pem"
        if not kek.exists():
            _write_secret(kek, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        if not signing.exists():
            key = Ed25519PrivateKey.generate()
            _write_secret(
                signing,
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
            )
        self.stdout.write(f"WARRANTDESK_KEK_FILE={kek}\nWARRANTDESK_SIGNING_KEY_FILE={signing}")
