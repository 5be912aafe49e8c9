import io
from pathlib import Path

from django.core.management.base import BaseCommand

from disclosure import keys
from disclosure.exports.verify_package import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, UsageError, print_report, verify
from warrantdesk import sealed
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Check an export package or identity sheet: every file's hash against the signed manifest, and the "
        "manifest's signature with the operator's own key (WARRANTDESK_SIGNING_KEY, or for a package signed "
        "before a key rotation the retired key it names, WARRANTDESK_RETIRED_SIGNING_KEYS), never with the copy "
        "inside the package. Exit status: 0 valid, 1 invalid, 2 usage error (no key to pin), "
        "3 consistent but origin unproven (never here: a key is always pinned). A package as stored under "
        "MEDIA_ROOT (encrypted at rest) is decrypted on the fly with the warrant's files key."
    )

    def add_arguments(self, parser):
        parser.add_argument("package")
        pin = parser.add_mutually_exclusive_group()
        pin.add_argument(
            "--public-key",
            metavar="PEM",
            help="operator public key (PEM); default: the key this installation signs with and its retired keys",
        )
        pin.add_argument("--fingerprint", metavar="HEX", help="SHA-256 fingerprint of the operator's public key")

    def handle(self, *args, package, public_key, fingerprint, **options):
        self._keys = {key.fingerprint: key for key in keys.verification_keys()} if not public_key else {}
        try:
            pin = self._pin(public_key, fingerprint)
            with self._open(package) as source:
                report = verify(source, public_key_pem=pin, fingerprint=fingerprint)  # type: ignore[arg-type]
        except UsageError as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            raise SystemExit(EXIT_USAGE) from exc
        except DomainError as exc:  # a stored (sealed) package altered after its header: invalid
            self.stdout.write(self.style.ERROR(f"INVALID: {package}: {exc.message}"))
            raise SystemExit(EXIT_INVALID) from exc
        print_report(report, write=self._write)
        if report.status != EXIT_VALID:
            raise SystemExit(report.status)

    @staticmethod
    def _open(package: str) -> io.BufferedReader:
        """The package's plaintext: the file itself, or, for a package as stored (sealed), its
        decryption, streamed (nothing in clear touches the disk)."""
        try:
            handle = open(package, "rb", buffering=0)  # noqa: SIM115 (returned, closed by the caller)
            if not sealed.is_sealed(handle):
                return _Named(handle, package)
        except OSError as exc:
            raise UsageError(f"{package}: cannot be read ({exc.strerror or exc})") from exc
        try:
            return _Named(sealed.SealedReader(handle), package)
        except DomainError as exc:  # the warrant's key destroyed, or the stored file altered
            handle.close()
            raise UsageError(f"{package}: {exc.message}") from exc

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
            current = keys.public_key_pem(keys.operator_public_key())
        except keys.KeyUnavailable as exc:
            raise UsageError(
                f"{exc.message} Without it there is no key to pin: pass the operator's public key "
                "(--public-key operator-public-key.pem)."
            ) from exc
        # The current key, then the retired ones: the package's embedded key names the one that must
        # have signed it, and a package signed by any other key is INVALID as before.
        return current + b"".join(key.pem for key in self._keys.values() if not key.current)

    def _write(self, line: str) -> None:
        if line.startswith("Pinned operator key:"):
            key = self._keys.get(line.rsplit("SHA-256 ", 1)[-1].replace(" ", ""))
            if key is not None:
                line += f" ({key.state})"
        if line.startswith(("FAIL", "INVALID")):
            self.stdout.write(self.style.ERROR(line))
        elif line.startswith("VALID"):
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write(line)


class _Named(io.BufferedReader):
    """A binary stream named by its path in the report's messages."""

    def __init__(self, raw, name: str):
        super().__init__(raw, buffer_size=sealed.CHUNK)
        self.label = name

    def __str__(self) -> str:
        return self.label
