from pathlib import Path

from django.core.management.base import BaseCommand

from disclosure import keys
from disclosure.exports.verify_package import EXIT_USAGE, EXIT_VALID, UsageError, print_report, verify


class Command(BaseCommand):
    help = (
        "Check an export package or identity sheet: every file's hash against the signed manifest, and the "
        "manifest's signature with the operator's own key (WARRANTDESK_SIGNING_KEY), never with the copy "
        "inside the package. Exit status: 0 valid, 1 invalid, 2 usage error (no key to pin), "
        "3 consistent but origin unproven (never here: a key is always pinned)."
    )

    def add_arguments(self, parser):
        parser.add_argument("package")
        pin = parser.add_mutually_exclusive_group()
        pin.add_argument(
            "--public-key",
            metavar="PEM",
            help="operator public key (PEM); default: the key this installation signs with",
        )
        pin.add_argument("--fingerprint", metavar="HEX", help="SHA-256 fingerprint of the operator's public key")

    def handle(self, *args, package, public_key, fingerprint, **options):
        try:
            report = verify(package, public_key_pem=self._pin(public_key, fingerprint), fingerprint=fingerprint)
        except UsageError as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            raise SystemExit(EXIT_USAGE) from exc
        print_report(report, write=self._write)
        if report.status != EXIT_VALID:
            raise SystemExit(report.status)

    def _pin(self, public_key: str | None, fingerprint: str | None) -> bytes | None:
        """The PEM to pin: the given file, or the operator's configured key; never none at all."""
        if public_key:
            try:
                return Path(public_key).read_bytes()
            except OSError as exc:
                raise UsageError(f"--public-key: {public_key}: cannot be read ({exc.strerror or exc})") from exc
        if fingerprint:
            return None
        try:
            return keys.public_key_pem(keys.operator_public_key())
        except keys.KeyUnavailable as exc:
            raise UsageError(
                f"{exc.message} Without it there is no key to pin: pass the operator's public key "
                "(--public-key operator-public-key.pem)."
            ) from exc

    def _write(self, line: str) -> None:
        if line.startswith(("FAIL", "INVALID")):
            self.stdout.write(self.style.ERROR(line))
        elif line.startswith("VALID"):
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write(line)
