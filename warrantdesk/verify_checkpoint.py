"""Check warrantdesk audit checkpoints and proofs without trusting warrantdesk. Pure: the standard
library and ``cryptography``.

A checkpoint is a C2SP signed note (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint)::

    <origin>
    <tree size>
    <base64 RFC 6962 root hash>

    — <key name> <base64(4-byte key id || Ed25519 signature)>

The tree is the RFC 6962 Merkle tree over the audit entries (leaf = the entry's canonical bytes;
leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right)). An auditor keeps the
checkpoints it was given and later asks the operator for a consistency proof to a newer one: if the
operator rewrote any entry covered by the old checkpoint, no such proof exists.

    python3 verify_checkpoint.py checkpoint CHECKPOINT.txt --public-key audit-public-key.pem
    python3 verify_checkpoint.py consistency OLD.txt NEW.txt --proof consistency.json --public-key KEY.pem
    python3 verify_checkpoint.py inclusion CHECKPOINT.txt --proof inclusion.json --public-key KEY.pem

``--fingerprint "3f2a 9c1e …"`` (SHA-256 of the key's DER SubjectPublicKeyInfo) pins the key given
with ``--key`` instead of ``--public-key``. Without a pinned key this checker never says VALID: a
note can be signed by anyone with a key of their own.

After the operator replaced its key, notes signed before are signed by the retired key (published,
marked retired, at ``/audit/key/``): pin both, ``--public-key NEW.pem --public-key RETIRED.pem``; each
note is checked with the key its signature line names, and the output says which.

Exit status: 0 VALID, 1 INVALID (each failure named), 2 usage error, 3 ORIGIN UNPROVEN (the proofs
hold but no key was pinned).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNPROVEN = 3

HASH_SIZE = 32
SIGNATURE_DASH = "\u2014"  # the em dash that starts a signature line
ED25519_ALGORITHM = 0x01

_FINGERPRINT_SEPARATORS = re.compile(r"[\s:\-]")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class UsageError(Exception):
    """Bad input from the person running the check: exit status 2."""


class ProofError(Exception):
    """A proof, a hash or a note does not check out; the message says what."""


# --- RFC 6962 hashing and proof verification (RFC 9162, sections 2.1.3.2 and 2.1.4.2) --------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hashes(name: str, values: Sequence[bytes]) -> None:
    for position, value in enumerate(values):
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name}[{position}] is {len(value)} bytes long, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from the leaf hash ``leaf`` at ``index`` in a tree of ``size``."""
    if index < 0 or size <= 0 or index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"the leaf hash is {len(leaf)} bytes long, not {HASH_SIZE}")
    _check_hashes("proof", proof)
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(*, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless the leaf hash ``leaf`` is at ``index`` of the tree of ``size`` with ``root``."""
    if len(root) != HASH_SIZE:
        raise ProofError(f"the root hash is {len(root)} bytes long, not {HASH_SIZE}")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of the tree of size {size}")


def verify_consistency(*, size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless the tree of ``size1`` with ``root1`` is a prefix of the one of ``size2``.

    A consistency proof from the empty tree proves nothing and is refused."""
    if size1 < 0 or size2 < 0:
        raise ProofError("tree sizes cannot be negative")
    if size1 > size2:
        raise ProofError(f"the first tree ({size1}) is larger than the second ({size2})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("trees of equal size need an empty proof")
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes("proof", proof)
    for name, root in (("first root", root1), ("second root", root2)):
        if len(root) != HASH_SIZE:
            raise ProofError(f"the {name} is {len(root)} bytes long, not {HASH_SIZE}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than it should be")
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than it should be")
    if first != root1:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of size {size1}")
    if second != root2:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of size {size2}")


# --- C2SP signed notes and checkpoints -------------------------------------------------------------


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, 64 lower-case hex digits."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def format_fingerprint(hex_digits: str) -> str:
    return " ".join(hex_digits[i : i + 4] for i in range(0, len(hex_digits), 4))


def parse_fingerprint(text: str) -> str:
    digits = _FINGERPRINT_SEPARATORS.sub("", text).lower()
    if not _HEX64.fullmatch(digits):
        raise UsageError(
            "--fingerprint: expected the 64 hexadecimal digits of a SHA-256 fingerprint "
            "(spaces, colons and hyphens between them are allowed)"
        )
    return digits


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey) -> bytes:
    """The note key id: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + raw_public_key(key)).digest()[:4]


def verifier_key(name: str, key: Ed25519PublicKey) -> str:
    """The key in the note verifier-key notation: ``<name>+<hex key id>+<base64(0x01 || key)>``."""
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + raw_public_key(key)).decode()
    return f"{name}+{key_id(name, key).hex()}+{encoded}"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The signed text of a checkpoint: origin, size and base64 root, each on its own line."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise ValueError("the origin must be one non-empty line")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def signature_line(name: str, key_id_bytes: bytes, signature: bytes) -> str:
    return f"{SIGNATURE_DASH} {name} {base64.b64encode(key_id_bytes + signature).decode()}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    body: str
    signatures: tuple[NoteSignature, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    """Split a signed note into body and signature lines and read the checkpoint body. Raises ProofError."""
    if "\r" in text:
        raise ProofError("the note contains a carriage return (it must use plain newlines)")
    body, separator, signature_block = text.rpartition("\n\n")
    if not separator:
        raise ProofError("the note has no blank line between its text and its signatures")
    body += "\n"
    if not signature_block.endswith("\n"):
        raise ProofError("the note's last signature line does not end with a newline")
    signatures = []
    for line in signature_block[:-1].split("\n"):
        prefix = SIGNATURE_DASH + " "
        if not line.startswith(prefix):
            raise ProofError(f"not a signature line: {line[:60]!r}")
        name, _space, encoded = line[len(prefix) :].rpartition(" ")
        if not name or " " in name:
            raise ProofError(f"a signature line has no valid key name: {line[:60]!r}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ProofError(f"the signature of {name!r} is not base64") from exc
        if len(raw) < 5:
            raise ProofError(f"the signature of {name!r} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise ProofError("a checkpoint needs an origin, a tree size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise ProofError("the checkpoint's origin line is empty")
    if not _SIZE.fullmatch(size_text):
        raise ProofError(f"the tree size is not a decimal number: {size_text[:30]!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise ProofError("the root hash is not base64") from exc
    if len(root) != HASH_SIZE:
        raise ProofError(f"the root hash is {len(root)} bytes long, not {HASH_SIZE}")
    return Checkpoint(origin, int(size_text), root, body, tuple(signatures))


def verify_note_signature(checkpoint: Checkpoint, key: Ed25519PublicKey, *, name: str | None = None) -> None:
    """Raise ProofError unless the note carries a valid signature by ``key`` under ``name`` (default:
    the checkpoint's origin, the name warrantdesk signs with)."""
    note_signer(checkpoint, [key], name=name)


def note_signer(
    checkpoint: Checkpoint, keys: Sequence[Ed25519PublicKey], *, name: str | None = None
) -> Ed25519PublicKey:
    """The key among ``keys`` (the operator's current and retired keys, say) whose valid signature the
    note carries under ``name``: each signature line names its key by key id, so only the keys with
    that id are tried. Raise ProofError when none of them signed it."""
    name = name or checkpoint.origin
    signed_by_one = False
    for key in keys:
        expected_id = key_id(name, key)
        candidates = [s for s in checkpoint.signatures if s.name == name and s.key_id == expected_id]
        signed_by_one = signed_by_one or bool(candidates)
        for candidate in candidates:
            try:
                key.verify(candidate.signature, checkpoint.body.encode())
                return key
            except InvalidSignature:
                continue
    if not signed_by_one:
        pinned = "the pinned key" if len(keys) == 1 else f"any of the {len(keys)} pinned keys"
        raise ProofError(f"the note carries no signature by {pinned} under the name {name!r}")
    raise ProofError(f"the signature by {name!r} does not match the note (it was altered or signed by another key)")


# --- the command line ------------------------------------------------------------------------------


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pinned_fingerprint: str = ""  # the pinned key, when one is
    pinned_count: int = 0  # keys pinned: several after a key rotation (the current and retired keys)

    def status(self) -> int:
        if self.problems:
            return EXIT_INVALID
        return EXIT_VALID if self.pinned_count else EXIT_UNPROVEN

    def summary(self) -> str:
        if self.problems:
            return f"INVALID: {len(self.problems)} problem(s), listed above"
        if self.pinned_count > 1:
            return (
                f"VALID: {len(self.checked)} checks passed; each note signed by one of the {self.pinned_count} "
                "pinned audit keys (named above)"
            )
        if self.pinned_count:
            return (
                f"VALID: {len(self.checked)} checks passed; signed by the pinned audit key "
                f"(SHA-256 {format_fingerprint(self.pinned_fingerprint)})"
            )
        return (
            "ORIGIN UNPROVEN: the proofs hold, but no key was pinned: anyone can sign a note with a key "
            "of their own. Check again with --public-key, or --key with --fingerprint."
        )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UsageError("the key file is not a readable PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError("the key is not an Ed25519 public key")
    return key


_PEM_PUBLIC_KEY = re.compile(rb"-----BEGIN PUBLIC KEY-----\r?\n.*?-----END PUBLIC KEY-----", re.DOTALL)


def load_public_keys(pem: bytes) -> list[Ed25519PublicKey]:
    """Every Ed25519 public key of a PEM file: one, or several (the operator's current and retired keys;
    text between the keys, such as ``Retired: 2026-12-01``, is ignored)."""
    blocks = _PEM_PUBLIC_KEY.findall(pem)
    return [load_public_key(block) for block in blocks] if blocks else [load_public_key(pem)]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _decode_hashes(values: object, what: str) -> list[bytes]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ProofError(f"{what}: expected a list of base64 hashes")
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except binascii.Error as exc:
        raise ProofError(f"{what}: not base64") from exc


def _load_json(path: str) -> dict:
    try:
        data = json.loads(_read(path))
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data


def _pinned_keys(args: argparse.Namespace, report: Report) -> list[Ed25519PublicKey]:
    """The keys to check signatures with: every key of the --public-key files (pinned), or the key of
    the --key file whose fingerprint is --fingerprint (pinned), or the --key file's keys unpinned."""
    if args.public_key and args.key:
        raise UsageError("give the key once: --public-key (pinned) or --key with --fingerprint")
    if args.fingerprint and not args.key:
        raise UsageError("--fingerprint pins the key given with --key")
    if args.public_key:
        keys = [key for path in args.public_key for key in load_public_keys(_read(path))]
        _pin(report, keys)
        return keys
    if args.key:
        keys = load_public_keys(_read(args.key))
        if args.fingerprint:
            pinned = parse_fingerprint(args.fingerprint)
            matching = [key for key in keys if key_fingerprint(key) == pinned]
            if not matching:
                found = ", ".join(format_fingerprint(key_fingerprint(key)) for key in keys)
                report.problems.append(
                    f"the key file's fingerprint (SHA-256 {found}) is not the pinned one ({format_fingerprint(pinned)})"
                )
                return []
            _pin(report, matching)
            return matching
        for key in keys:
            print(f"key not pinned; its fingerprint is SHA-256 {format_fingerprint(key_fingerprint(key))}")
        return keys
    return []


def _pin(report: Report, keys: list[Ed25519PublicKey]) -> None:
    report.pinned_count = len(keys)
    report.pinned_fingerprint = key_fingerprint(keys[0]) if len(keys) == 1 else ""
    if len(keys) > 1:
        for key in keys:
            print(f"pinned key SHA-256 {format_fingerprint(key_fingerprint(key))}")


def _checkpoint(path: str, keys: list[Ed25519PublicKey], name: str | None, report: Report) -> Checkpoint | None:
    try:
        checkpoint = parse_checkpoint(_read(path).decode("utf-8"))
    except UnicodeDecodeError:
        report.problems.append(f"{path}: not UTF-8 text")
        return None
    except ProofError as exc:
        report.problems.append(f"{path}: {exc}")
        return None
    if not keys:
        report.problems.append(f"{path}: no key given (--public-key, or --key with --fingerprint)")
        return checkpoint
    try:
        signer = note_signer(checkpoint, keys, name=name)
        by = f" by the key SHA-256 {format_fingerprint(key_fingerprint(signer))}" if len(keys) > 1 else ""
        report.checked.append(f"{path}: signature of {checkpoint.origin}, tree size {checkpoint.size}{by}")
    except ProofError as exc:
        report.problems.append(f"{path}: {exc}")
    return checkpoint


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check warrantdesk audit checkpoints and their proofs.")
    parser.add_argument("mode", choices=["checkpoint", "consistency", "inclusion"])
    parser.add_argument("checkpoints", nargs="+", help="one checkpoint file (two for consistency: old then new)")
    parser.add_argument("--proof", help="the proof, as the API returns it (JSON)")
    parser.add_argument(
        "--public-key",
        action="append",
        help="the operator's audit public key (PEM) you pinned; after a key rotation give the retired key too "
        "(repeat the option, or one file holding several keys): each note is checked with the key it names",
    )
    parser.add_argument("--key", help="a key file (PEM) to check against --fingerprint")
    parser.add_argument("--fingerprint", help="the SHA-256 fingerprint of the audit key, as published")
    parser.add_argument("--name", help="the key name in the signature lines (default: the checkpoint's origin)")
    args = parser.parse_args(argv)
    report = Report()
    try:
        expected = 2 if args.mode == "consistency" else 1
        if len(args.checkpoints) != expected:
            raise UsageError(f"{args.mode}: give {expected} checkpoint file(s)")
        if args.mode != "checkpoint" and not args.proof:
            raise UsageError(f"{args.mode}: --proof is required")
        keys = _pinned_keys(args, report)
        checkpoints = [_checkpoint(path, keys, args.name, report) for path in args.checkpoints]
        proof = _load_json(args.proof) if args.proof else {}
        if all(checkpoints) and args.mode != "checkpoint":
            try:
                _check_proof(args.mode, checkpoints, proof, report)  # type: ignore[arg-type]
            except ProofError as exc:
                report.problems.append(f"{args.mode} proof: {exc}")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in report.checked:
        print(f"ok   {line}")
    for line in report.problems:
        print(f"FAIL {line}")
    print(report.summary())
    return report.status()


def _check_proof(mode: str, checkpoints: list[Checkpoint], proof: dict, report: Report) -> None:
    if mode == "consistency":
        old, new = checkpoints
        if old.origin != new.origin:
            raise ProofError(f"the checkpoints are of two logs ({old.origin!r}, {new.origin!r})")
        if proof.get("from") != old.size or proof.get("to") != new.size:
            raise ProofError(
                f"the proof is from {proof.get('from')} to {proof.get('to')}, not {old.size} to {new.size}"
            )
        verify_consistency(
            size1=old.size,
            size2=new.size,
            proof=_decode_hashes(proof.get("proof"), "proof"),
            root1=old.root,
            root2=new.root,
        )
        report.checked.append(f"the tree of size {old.size} is a prefix of the tree of size {new.size}")
        return
    (checkpoint,) = checkpoints
    canonical = proof.get("canonical")
    index = proof.get("leaf_index")
    if not isinstance(canonical, str) or not isinstance(index, int) or isinstance(index, bool):
        raise ProofError("the proof needs the entry's canonical text ('canonical') and its 'leaf_index'")
    if proof.get("tree_size") != checkpoint.size:
        raise ProofError(f"the proof is for a tree of size {proof.get('tree_size')}, not {checkpoint.size}")
    verify_inclusion(
        index=index,
        size=checkpoint.size,
        leaf=leaf_hash(canonical.encode()),
        proof=_decode_hashes(proof.get("proof"), "proof"),
        root=checkpoint.root,
    )
    report.checked.append(
        f"the entry at leaf {index} (audit entry #{index + 1}) is in the tree of size {checkpoint.size}"
    )


if __name__ == "__main__":
    sys.exit(run())
