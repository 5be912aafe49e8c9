"""Check a warrantdesk export package: every file's SHA-256 and size against the manifest, and the
operator's Ed25519 signature over the manifest. Pure: the standard library and ``cryptography``.

An agency can run it without the rest of warrantdesk:

    python verify_package.py PACKAGE.zip --public-key operator-public-key.pem

(the operator publishes its public key separately; the copy inside the package is only a convenience
and proves nothing on its own). ``manage.py verify_export`` runs the same check.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIXED_FILES = {"manifest.json", "manifest.sig", "operator-public-key.pem"}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify(path: str, *, public_key_pem: bytes | None = None) -> Report:
    report = Report()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"{path}: not a readable ZIP package ({exc})")
        return report
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
        except ValueError:
            report.problems.append("manifest.json: not valid JSON")
            return report
        key_pem = public_key_pem or (
            archive.read("operator-public-key.pem") if "operator-public-key.pem" in names else None
        )
        if key_pem is None:
            report.problems.append("no public key: pass the operator's public key (--public-key)")
        else:
            try:
                key = serialization.load_pem_public_key(key_pem)
                if not isinstance(key, Ed25519PublicKey):
                    raise ValueError("not an Ed25519 key")
                key.verify(base64.b64decode(archive.read("manifest.sig").strip()), manifest_bytes)
                report.checked.append("manifest.sig: the operator's signature over manifest.json is valid")
            except (InvalidSignature, ValueError) as exc:
                report.problems.append(f"manifest.sig: the signature does not match manifest.json ({exc or 'invalid'})")
        files = report.manifest.get("files", {})
        for name, expected in sorted(files.items()):
            if name not in names:
                report.problems.append(f"{name}: listed in the manifest but missing from the package")
                continue
            digest, size = _sha256(archive, name)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("--public-key", help="the operator's Ed25519 public key (PEM)")
    args = parser.parse_args(argv)
    key = open(args.public_key, "rb").read() if args.public_key else None  # noqa: SIM115
    report = verify(args.package, public_key_pem=key)
    for line in report.checked:
        print(f"OK    {line}")
    for line in report.problems:
        print(f"FAIL  {line}")
    print("VALID" if report.ok else "INVALID")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
