import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from requests_app.models import Agency, SignatureOutcome
from requests_app.verification import EXPLANATIONS, judge_document


class Command(BaseCommand):
    help = (
        "Check a warrant document's signature exactly as warrantdesk does on upload. "
        "Exit status 0 only when the outcome is valid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the PDF")
        parser.add_argument("--detached", metavar="SIG.p7s", help="a detached CMS signature over the PDF")
        parser.add_argument("--agency", required=True, help="code of the issuing agency")
        parser.add_argument("--at", help="validation time, ISO 8601 (default: now); use the warrant's receipt time")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, file, detached, agency, at, json: bool, **options):
        agency_obj = Agency.objects.filter(code=agency).first()
        if agency_obj is None:
            raise CommandError(f"No agency with code {agency!r}.")
        moment = timezone.now()
        if at:
            parsed = parse_datetime(at)
            if parsed is None:
                raise CommandError(f"--at: not an ISO 8601 time: {at!r}")
            moment = parsed
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=dt.UTC)
        try:
            pdf = Path(file).read_bytes()
            signature = Path(detached).read_bytes() if detached else None
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        verdict = judge_document(pdf, agency=agency_obj, at=moment, detached_signature=signature)
        if json:
            self.stdout.write(
                _json_dumps({"file": file, "agency": agency, "at": moment.isoformat(), **verdict.as_dict()})
            )
        else:
            self._print(verdict)
        if verdict.outcome != SignatureOutcome.VALID:
            raise SystemExit(1)

    def _print(self, verdict) -> None:
        style = self.style.SUCCESS if verdict.is_valid else self.style.ERROR
        self.stdout.write(style(f"{verdict.outcome.value}: {verdict.outcome.label}"))
        self.stdout.write(str(EXPLANATIONS[verdict.outcome]))
        data = verdict.as_dict()
        if data["signer_subject"]:
            self.stdout.write(f"signer:      {data['signer_subject']}")
            self.stdout.write(f"certificate: {data['signer_fingerprint']}")
        if data["investigator"]:
            self.stdout.write(f"registered:  {data['investigator']}")
        for label, key in (("claimed time", "signing_time"), ("timestamp", "timestamp"), ("judged at", "validated_at")):
            if data[key]:
                self.stdout.write(f"{label + ':':<13}{data[key]}")
        for reason in verdict.reasons:
            self.stdout.write(f"  - {reason}")


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
