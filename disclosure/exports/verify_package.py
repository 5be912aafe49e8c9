"""Check a warrantdesk export package: every file's SHA-256 and size against the manifest, and the
operator's Ed25519 signature over the manifest. Pure: the standard library and ``cryptography``.

An agency can run it without the rest of warrantdesk, pinning the operator's key:

    python3 verify_package.py PACKAGE.zip --public-key operator-public-key.pem
    python3 verify_package.py PACKAGE.zip --fingerprint "3f2a 9c1e ..."

The operator publishes its public key and the key's fingerprint (SHA-256 of the key's DER
SubjectPublicKeyInfo) on its ``/operator-key/`` page, at ``/api/v1/operator-key/`` and on the
cover of every report. After replacing its key it publishes the retired keys there too, marked: a
package signed before the change is checked against the retired key (``--public-key`` with its PEM,
or ``--fingerprint`` with its fingerprint). The copy of the key inside the package proves nothing on its own: anyone who
alters a package can sign it again with a key of their own and put that key in. So without a pinned
key this checker never says VALID: it checks that the package is consistent and prints the
fingerprint of the key inside, for the reader to compare with the published one.

Exit status:
  0  VALID: consistent, and signed by the pinned operator key
  1  INVALID: a file, the manifest or its signature does not match (each failure is named)
  2  usage error: bad arguments, an unreadable package or key file, a malformed fingerprint
  3  ORIGIN UNPROVEN: consistent, but no key was pinned (--public-key or --fingerprint)

``manage.py verify_export`` runs the same check, pinning the operator's own configured key.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIXED_FILES = {"manifest.json", "manifest.sig", "operator-public-key.pem"}
EMBEDDED_KEY = "operator-public-key.pem"

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNPROVEN = 3

_FINGERPRINT_SEPARATORS = re.compile(r"[\s:\-]")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class UsageError(Exception):
    """Bad input from the person running the check (not a fault of the package): exit status 2."""


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, 64 lower-case hex digits (what ``openssl pkey
    -pubin -outform DER | sha256sum`` prints)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def format_fingerprint(hex_digits: str) -> str:
    """The fingerprint in groups of four hex digits, for people to compare by eye."""
    return " ".join(hex_digits[i : i + 4] for i in range(0, len(hex_digits), 4))


def parse_fingerprint(text: str) -> str:
    """A fingerprint as people copy it (any case, spaces, colons or hyphens) -> 64 lower-case hex digits."""
    digits = _FINGERPRINT_SEPARATORS.sub("", text).lower()
    if not _HEX64.fullmatch(digits):
        raise UsageError(
            "--fingerprint: expected the 64 hexadecimal digits of a SHA-256 fingerprint "
            "(spaces, colons and hyphens between them are allowed)"
        )
    return digits


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError when it is anything else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a public key in PEM form") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


_PEM_PUBLIC_KEY = re.compile(rb"-----BEGIN PUBLIC KEY-----\r?\n.*?-----END PUBLIC KEY-----", re.DOTALL)


def load_public_keys(pem: bytes) -> list[Ed25519PublicKey]:
    """Every Ed25519 public key of a PEM file: one, or several (the operator's current key and the
    retired ones; text between the keys, such as ``Retired: 2026-12-01``, is ignored)."""
    blocks = _PEM_PUBLIC_KEY.findall(pem)
    return [load_public_key(block) for block in blocks] if blocks else [load_public_key(pem)]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    embedded_fingerprint: str = ""  # of the key inside the package, "" when it has none (or not a key)
    pinned_fingerprint: str = ""  # of the key the signature was checked against, "" when none was pinned

    @property
    def ok(self) -> bool:
        """Consistent: every file matches the manifest and the manifest's signature verifies."""
        return not self.problems

    @property
    def origin_proven(self) -> bool:
        return bool(self.pinned_fingerprint)

    @property
    def status(self) -> int:
        if self.problems:
            return EXIT_INVALID
        return EXIT_VALID if self.origin_proven else EXIT_UNPROVEN

    def summary(self) -> str:
        """The last line of the output: VALID, INVALID or ORIGIN UNPROVEN, with what it rests on."""
        if self.problems:
            return f"INVALID: {len(self.problems)} problem(s), listed above"
        if self.origin_proven:
            return (
                f"VALID: {len(self.checked)} checks passed; signed by the pinned operator key "
                f"(SHA-256 {format_fingerprint(self.pinned_fingerprint)})"
            )
        return (
            "ORIGIN UNPROVEN: the files match the manifest and its signature matches the key inside the "
            "package, but anyone can sign a package with a key of their own. Compare the fingerprint of "
            f"that key (SHA-256 {format_fingerprint(self.embedded_fingerprint)}) with the one the operator "
            "publishes, then check again with --public-key or --fingerprint."
        )


# What reading a damaged member raises (a wrong CRC, broken deflate data, a cut-off file, a header byte
# naming another compression method or encryption): the package is INVALID, the damage named.
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def _sha256(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_signature(
    report: Report,
    archive: zipfile.ZipFile,
    manifest_bytes: bytes,
    embedded: Ed25519PublicKey | None,
    public_key_pem: bytes | None,
    fingerprint: str | None,
) -> None:
    """Choose the key the signature must verify with (pinned if given) and check the signature."""
    key: Ed25519PublicKey | None
    if public_key_pem is not None:
        try:
            pinned = load_public_keys(public_key_pem)
        except ValueError as exc:
            raise UsageError(f"--public-key: {exc}") from exc
        if len(pinned) > 1:
            _check_signature_by_one_of(report, archive, manifest_bytes, embedded, pinned)
            return
        key = pinned[0]
        report.pinned_fingerprint = key_fingerprint(key)
        if embedded is not None and report.embedded_fingerprint != report.pinned_fingerprint:
            report.problems.append(
                f"{EMBEDDED_KEY}: the package's embedded key differs from the pinned key (embedded SHA-256 "
                f"{format_fingerprint(report.embedded_fingerprint)}, pinned "
                f"{format_fingerprint(report.pinned_fingerprint)})"
            )
        against = "the given key"
    elif fingerprint is not None:
        if embedded is None:
            report.problems.append(
                f"{EMBEDDED_KEY}: the package holds no usable key to compare with the pinned fingerprint; "
                "pass the operator's public key (--public-key)"
            )
            return
        if report.embedded_fingerprint != fingerprint:
            report.problems.append(
                f"{EMBEDDED_KEY}: the package's embedded key differs from the pinned key (embedded SHA-256 "
                f"{format_fingerprint(report.embedded_fingerprint)}, pinned {format_fingerprint(fingerprint)})"
            )
            return  # its signature would prove nothing
        report.pinned_fingerprint = fingerprint
        key = embedded
        against = "the pinned key"
    else:
        if embedded is None:
            report.problems.append(
                f"{EMBEDDED_KEY}: no usable key in the package; pass the operator's public key (--public-key)"
            )
            return
        key = embedded
        against = "the key inside the package"
    try:
        signature = base64.b64decode(archive.read("manifest.sig").strip(), validate=True)
    except (binascii.Error, ValueError):
        report.problems.append("manifest.sig: not a base64-encoded signature")
        return
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        report.problems.append(f"manifest.sig: the manifest signature does not verify with {against}")
        return
    if report.pinned_fingerprint:
        report.checked.append(f"manifest.sig: the signature over manifest.json verifies with {against}")
    else:
        report.checked.append(
            "manifest.sig: the signature over manifest.json matches the key inside the package "
            "(which proves nothing on its own)"
        )


def _check_signature_by_one_of(
    report: Report,
    archive: zipfile.ZipFile,
    manifest_bytes: bytes,
    embedded: Ed25519PublicKey | None,
    pinned: list[Ed25519PublicKey],
) -> None:
    """Several pinned keys (the operator's current and retired ones): the one the package names by its
    embedded key must have signed it; a package whose embedded key is none of them is INVALID, as with
    one pinned key. The report names the key that verified."""
    by_fingerprint = {key_fingerprint(key): key for key in pinned}
    if embedded is None or report.embedded_fingerprint not in by_fingerprint:
        listed = ", ".join(format_fingerprint(fingerprint) for fingerprint in by_fingerprint)
        report.problems.append(
            f"{EMBEDDED_KEY}: the package's embedded key is none of the pinned keys (embedded SHA-256 "
            f"{format_fingerprint(report.embedded_fingerprint) if embedded else 'none'}, pinned {listed})"
        )
        return
    report.pinned_fingerprint = report.embedded_fingerprint
    key = by_fingerprint[report.embedded_fingerprint]
    try:
        signature = base64.b64decode(archive.read("manifest.sig").strip(), validate=True)
    except (binascii.Error, ValueError):
        report.problems.append("manifest.sig: not a base64-encoded signature")
        return
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        report.problems.append("manifest.sig: the manifest signature does not verify with the pinned key it names")
        return
    report.checked.append(
        "manifest.sig: the signature over manifest.json verifies with the pinned key "
        f"SHA-256 {format_fingerprint(report.pinned_fingerprint)}"
    )


def verify(path: str, *, public_key_pem: bytes | None = None, fingerprint: str | None = None) -> Report:
    """Check the package at ``path``. Pin the operator's key with ``public_key_pem`` (PEM bytes) or
    ``fingerprint`` (any spelling ``parse_fingerprint`` accepts); without either the report can be
    consistent but never of proven origin. Raises UsageError for a bad pin or an unreadable path."""
    if public_key_pem is not None and fingerprint is not None:
        raise UsageError("pin the key once: --public-key or --fingerprint, not both")
    if fingerprint is not None:
        fingerprint = parse_fingerprint(fingerprint)
    report = Report()
    try:
        return _verify(report, path, public_key_pem, fingerprint)
    except DAMAGED as exc:  # the manifest, its signature or the key inside cannot be read
        report.problems.append(f"{path}: damaged, cannot be read ({exc})")
        return report


def _verify(report: Report, path: str, public_key_pem: bytes | None, fingerprint: str | None) -> Report:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        report.problems.append(f"{path}: not a readable ZIP package ({exc})")
        return report
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    with archive:
        names = set(archive.namelist())
        for required in ("manifest.json", "manifest.sig"):
            if required not in names:
                report.problems.append(f"{required}: missing from the package")
        if report.problems:
            return report
        manifest_bytes = archive.read("manifest.json")
        try:
            report.manifest = json.loads(manifest_bytes)
            if not isinstance(report.manifest, dict):
                raise ValueError
        except ValueError:
            report.manifest = {}
            report.problems.append("manifest.json: not a JSON object")
            return report
        embedded = None
        if EMBEDDED_KEY in names:
            try:
                embedded = load_public_key(archive.read(EMBEDDED_KEY))
                report.embedded_fingerprint = key_fingerprint(embedded)
            except ValueError as exc:
                report.problems.append(f"{EMBEDDED_KEY}: {exc}")
        _check_signature(report, archive, manifest_bytes, embedded, public_key_pem, fingerprint)
        files = report.manifest.get("files", {})
        if not isinstance(files, dict):
            report.problems.append("manifest.json: its list of files is malformed")
            files = {}
        for name, expected in sorted(files.items()):
            if name not in names:
                report.problems.append(f"{name}: listed in the manifest but missing from the package")
                continue
            expected = expected if isinstance(expected, dict) else {}
            try:
                digest, size = _sha256(archive, name)
            except DAMAGED as exc:
                report.problems.append(f"{name}: damaged in the package, cannot be read ({exc})")
                continue
            if digest != expected.get("sha256") or size != expected.get("size"):
                report.problems.append(
                    f"{name}: content differs from the manifest (SHA-256 {digest[:16]}…, expected "
                    f"{str(expected.get('sha256'))[:16]}…; {size} bytes, expected {expected.get('size')})"
                )
            else:
                report.checked.append(f"{name}: SHA-256 and size match")
        for name in sorted(names - set(files) - FIXED_FILES):
            report.problems.append(f"{name}: in the package but not in the manifest")
    return report


def print_report(report: Report, write=print) -> None:
    """The report as the command line shows it: the keys, OK/FAIL lines, then the summary."""
    if report.embedded_fingerprint:
        write(f"Key inside the package: SHA-256 {format_fingerprint(report.embedded_fingerprint)}")
    if report.pinned_fingerprint:
        write(f"Pinned operator key:    SHA-256 {format_fingerprint(report.pinned_fingerprint)}")
    for line in report.checked:
        write(f"OK    {line}")
    for line in report.problems:
        write(f"FAIL  {line}")
    write(report.summary())


def _epilog() -> str:
    return __doc__[__doc__.index("Exit status:") :].split("\n\n")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("package", help="the package (ZIP) to check")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument(
        "--public-key",
        metavar="PEM",
        help="the operator's Ed25519 public key (PEM file), as published; a file of several keys (the current "
        "and retired ones) pins them all, and the package must be signed by the one it names",
    )
    pin.add_argument(
        "--fingerprint",
        metavar="HEX",
        help="the published SHA-256 fingerprint of the operator's key (64 hex digits; spaces or colons allowed)",
    )
    args = parser.parse_args(argv)
    try:
        key = None
        if args.public_key:
            try:
                with open(args.public_key, "rb") as handle:
                    key = handle.read()
            except OSError as exc:
                raise UsageError(f"--public-key: {args.public_key}: cannot be read ({exc.strerror or exc})") from exc
        report = verify(args.package, public_key_pem=key, fingerprint=args.fingerprint)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print_report(report)
    return report.status


if __name__ == "__main__":
    sys.exit(main())
