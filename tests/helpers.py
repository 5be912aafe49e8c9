"""Small helpers shared by the test modules (no fixtures here: see conftest.py)."""

from pathlib import Path

from django.test import Client

BOUNDARY = "warrantdesk-test-boundary"
MULTIPART_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def multipart_body(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    """A multipart body built by hand, so that a file name reaches the server exactly as written.

    Django's test client keeps only the base name of an uploaded file, which would hide the
    "../" and "..\\" names these tests need to send.
    """
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        )
    for name, (file_name, content) in files.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def stored_files(root) -> list[Path]:
    root = Path(root)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def web_form_fields(agency, **overrides) -> dict[str, str]:
    """The fields of the "Log a warrant" form, as a browser sends them (no file)."""
    fields = {
        "agency": str(agency.pk),
        "warrant_number": "2026-압수-2001",
        "court": "Seoul Central District Court",
        "case_number": "2026고단77",
        "legal_basis": "Criminal Procedure Act art. 215",
        "kind": "ORDINARY",
        "received_at": "2026-03-02T09:00",
        "received_via": "PORTAL",
        "deadline": "2026-03-09T18:00",
        "period_start": "2026-01-01T00:00",
        "period_end": "2026-02-28T23:59",
        "targets": "user-42\nphone: 010-9876-5432",
        "rooms_text": "",
        "notes": "",
    }
    fields.update(overrides)
    return fields


def api_create_fields(agency, **overrides) -> dict:
    """The JSON body of POST /api/v1/warrants/."""
    fields = {
        "agency": agency.code,
        "warrant_number": "KNPA-2026-0500",
        "court": "Suwon District Court",
        "legal_basis": "Criminal Procedure Act art. 215",
        "received_at": "2026-03-02T09:00:00+09:00",
        "deadline": "2026-03-09T18:00:00+09:00",
        "period_start": "2026-01-01T00:00:00+09:00",
        "period_end": "2026-02-28T23:59:00+09:00",
        "targets": [{"kind": "UID", "identifier": "user-42"}, {"kind": "PHONE", "identifier": "010-9876-5432"}],
    }
    fields.update(overrides)
    return fields


def record_valid_signature(warrant):
    """Arrange: a valid chief-investigator verdict on the warrant's current document.

    For tests whose subject is the workflow, not the cryptography (that is tested with real
    signatures in test_signatures.py and test_signature_flow.py)."""
    from requests_app.models import SignatureCheck, SignatureOutcome
    from requests_app.services import current_warrant_document

    return SignatureCheck.objects.create(
        document=current_warrant_document(warrant),
        outcome=SignatureOutcome.VALID,
        signer_subject="CN=Arranged chief investigator",
        reasons=["Arranged by the test."],
    )


def verify_signature(warrant, *, actor):
    """Arrange the verdict, then let the system move the warrant to verified as the check would."""
    from requests_app import services
    from requests_app.workflow import Status

    record_valid_signature(warrant)
    return services.warrant_transition(warrant=warrant, to=Status.VERIFIED, actor=actor, system=True)
