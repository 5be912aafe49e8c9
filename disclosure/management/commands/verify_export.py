from pathlib import Path

from django.core.management.base import BaseCommand

from disclosure import keys
from disclosure.verify_package import verify


class Command(BaseCommand):
    help = "Check an export package: every file's hash against the signed manifest, and the signature."

    def add_arguments(self, parser):
        parser.add_argument("package")
        parser.add_argument(
            "--public-key", help="operator public key (PEM); default: the key this installation signs with"
        )

    def handle(self, *args, package, public_key, **options):
        if public_key:
            key = Path(public_key).read_bytes()
        else:
            try:
                key = keys.public_key_pem(keys.signing_key().public_key())
            except keys.KeyUnavailable:
                key = None  # fall back to the copy in the package, which the report says it used
        report = verify(package, public_key_pem=key)
        for line in report.checked:
            self.stdout.write(f"OK    {line}")
        for line in report.problems:
            self.stdout.write(self.style.ERROR(f"FAIL  {line}"))
        if not report.ok:
            self.stdout.write(self.style.ERROR("INVALID"))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"VALID: {len(report.checked)} checks passed"))
