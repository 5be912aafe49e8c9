import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from requests_app import registry
from requests_app.models import Agency
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = "Register an investigator of an agency by certificate; it must chain to one of the agency's anchors."

    def add_arguments(self, parser):
        parser.add_argument("code", help="agency code")
        parser.add_argument("certificate", help="the investigator's certificate, PEM or DER")
        parser.add_argument("--name", required=True)
        parser.add_argument("--title", default="")
        parser.add_argument("--chief", action="store_true", help="a chief investigator, who may sign warrants")
        parser.add_argument(
            "--valid-at",
            type=moment,
            default=None,
            metavar="WHEN",
            help="validate the certificate's chain as of this past moment instead of now (ISO 8601, e.g. "
            "2025-06-02T09:00 or 2025-06-02; local time unless an offset is given): for warrants received "
            "while a certificate that has since expired was valid",
        )

    def handle(self, *args, code, certificate, name, title, chief, valid_at, **options):
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            raise CommandError(f"No agency with code {code!r}; create it with register_agency first.")
        try:
            investigator = registry.investigator_register(
                agency=agency,
                certificate=Path(certificate).read_bytes(),
                name=name,
                title=title,
                is_chief=chief,
                actor=None,
                valid_at=valid_at,
            )
        except (OSError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        role = "chief investigator" if investigator.is_chief else "investigator"
        self.stdout.write(
            self.style.SUCCESS(
                f"{investigator.name} registered as {role} of {agency.code} "
                f"(certificate {investigator.certificate_sha256[:16]}…, valid until "
                f"{investigator.certificate_not_after:%Y-%m-%d}"
                + (f", validated as of {timezone.localtime(valid_at):%Y-%m-%d %H:%M %Z}" if valid_at else "")
                + ")"
            )
        )


def moment(value: str) -> dt.datetime:
    """An ISO 8601 date or date and time; naive values are in the server's time zone."""
    try:
        parsed = parse_datetime(value.strip())
        if parsed is None and (day := parse_date(value.strip())) is not None:
            parsed = dt.datetime.combine(day, dt.time.min)
    except ValueError as exc:
        raise CommandError(f"--valid-at {value!r} is not a valid date: {exc}.") from exc
    if parsed is None:
        raise CommandError(f"--valid-at {value!r} is not a date; write e.g. 2025-06-02T09:00 or 2025-06-02.")
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
