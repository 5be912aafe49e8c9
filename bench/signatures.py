"""Signature-check benchmark: the warrant's signature check next to bare pyHanko validation.

Goal (issue 3): the whole check of a one-page, one-signature warrant and of a 50-page one takes at
most 3x bare pyHanko validation of the same file (``validate_pdf_signature`` with a
``ValidationContext(trust_roots, moment)``, about 7-10 ms here).

Pure: no Django, no database. The documents are signed with the test PKI (``tests/pki.py``: EC P-256,
a chief investigator of agency A, validated at its receipt time). Two figures per document:

- ``verify_pdf``: ``requests_app.signatures.verify_pdf`` alone (the cryptographic part);
- the whole check, when a ``full_check`` callable is given: whatever the Django layer runs for an
  uploaded warrant document (registry look-up and stored result included). That is the figure held
  to the goal; without it, ``verify_pdf`` is.

Usage from bench/run.py (section 3) or on its own::

    .venv/bin/python -m bench.signatures          # prints the medians
    bench_signature_check(full_check=whole_check)  # whole_check(pdf_bytes): the services call on a warrant
"""

from __future__ import annotations

import io
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

GOAL_FACTOR = 3.0
PAGES = (1, 50)


@dataclass
class SignatureFigure:
    label: str  # "1 page" / "50 pages"
    size: int  # bytes of the signed PDF
    bare: float  # median seconds: bare pyHanko validation
    pure: float  # median seconds: verify_pdf
    full: float | None = None  # median seconds: the whole check (registry + stored result), if given
    outcome: str = ""  # what verify_pdf said (must be VALID, or the figures mean nothing)

    @property
    def checked(self) -> float:
        """The figure held to the goal: the whole check if measured, else verify_pdf."""
        return self.full if self.full is not None else self.pure

    @property
    def factor(self) -> float:
        return self.checked / self.bare

    @property
    def ok(self) -> bool:
        return self.outcome == "VALID" and self.factor <= GOAL_FACTOR


def signed_documents() -> dict[str, bytes]:
    """One-page and 50-page warrants signed by agency A's chief investigator (test PKI)."""
    from tests import pki

    ca = pki.pki()
    return {
        ("1 page" if pages == 1 else f"{pages} pages"): pki.sign_pdf(pki.make_pdf(pages=pages), ca.chief_a)
        for pages in PAGES
    }


def bare_pyhanko(data: bytes, anchors, at) -> bool:
    """What pyHanko alone does: read, validate the one signature, judge by bottom_line."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(data))
    (signature,) = reader.embedded_regular_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=list(anchors), moment=at))
    return status.bottom_line


def median_seconds(func: Callable[[], object], runs: int) -> float:
    func()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_signature_check(
    full_check: Callable[[bytes], object] | None = None, *, runs: int = 30
) -> list[SignatureFigure]:
    """Median times of bare pyHanko, verify_pdf and (if given) ``full_check(pdf_bytes)`` per document.

    ``full_check`` is the hook for the whole check: it receives the signed PDF and does everything
    the application does for an uploaded warrant document (signature check, registry look-up,
    storing the result), e.g. a services call on a prepared warrant.
    """
    from asn1crypto import x509 as asn1_x509

    from requests_app import signatures
    from tests import pki

    ca = pki.pki()
    anchors = ca.anchors_a
    asn1_anchors = [asn1_x509.Certificate.load(der) for der in anchors]
    at = pki.RECEIPT
    figures = []
    pyhanko_logger = logging.getLogger("pyhanko")
    level = pyhanko_logger.level
    pyhanko_logger.setLevel(logging.ERROR)  # bare pyHanko logs warnings we do not want in the output
    try:
        for label, data in signed_documents().items():
            outcome = signatures.verify_pdf(data, trust_roots=anchors, at=at).outcome
            if not bare_pyhanko(data, asn1_anchors, at):
                outcome = f"{outcome} (bare pyHanko: not valid)"
            bare = median_seconds(lambda data=data: bare_pyhanko(data, asn1_anchors, at), runs)
            pure = median_seconds(lambda data=data: signatures.verify_pdf(data, trust_roots=anchors, at=at), runs)
            full = median_seconds(lambda data=data: full_check(data), runs) if full_check else None
            figures.append(SignatureFigure(label, len(data), bare, pure, full, str(outcome)))
    finally:
        pyhanko_logger.setLevel(level)
    return figures


def main() -> int:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.2f} ms"

    for figure in bench_signature_check():
        verdict = "OK" if figure.ok else "FAIL"
        print(
            f"signature check, {figure.label} ({figure.size // 1024} KiB): verify_pdf {ms(figure.pure)}, "
            f"bare pyHanko {ms(figure.bare)} = {figure.factor:.2f}x (goal <= {GOAL_FACTOR:.0f}x) {verdict}"
        )
    return 0


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
