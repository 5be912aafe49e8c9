"""Demo data for `make run`: agencies, investigators, the legal team, and warrants in several states.

Idempotent: running it again changes nothing that is already there.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from requests_app import services
from requests_app.models import Agency, Investigator, Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from warrantdesk.roles import Role, sync_roles

DEMO_PASSWORD = "warrantdesk-demo"

USERS = [
    # username, full name, role, is_superuser
    ("officer.kim", "Kim Minji", Role.INTAKE_OFFICER, False),
    ("officer.lee", "Lee Junho", Role.INTAKE_OFFICER, False),
    ("reviewer.park", "Park Seoyeon", Role.REVIEWER, False),
    ("auditor.choi", "Choi Hyunwoo", Role.AUDITOR, False),
    ("admin", "Administrator", Role.ADMINISTRATOR, True),
]

AGENCIES = [
    ("scdpo", "Seoul Central District Prosecutors' Office", Agency.Kind.PROSECUTION, "cyber@scdpo.example"),
    ("knpa-cyber", "Korean National Police Agency, Cyber Bureau", Agency.Kind.POLICE, "warrants@knpa.example"),
]

INVESTIGATORS = [
    ("scdpo", "Jung Daehyun", "Chief Prosecutor", True),
    ("scdpo", "Han Soyoung", "Prosecutor", False),
    ("knpa-cyber", "Yoon Jaewon", "Chief Investigator", True),
    ("knpa-cyber", "Kang Mirae", "Investigator", False),
]


def demo_pdf(title: str) -> bytes:
    """A small, valid one-page PDF (unsigned) standing in for a scanned warrant."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class Command(BaseCommand):
    help = "Load demo data (idempotent). With --print-logins, only print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--print-logins", action="store_true", help="Print the demo logins and exit.")

    def handle(self, *args, print_logins=False, **options):
        if print_logins:
            self.print_logins()
            return
        sync_roles()
        users = self.seed_users()
        agencies = self.seed_registry()
        self.seed_warrants(users, agencies)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def print_logins(self) -> None:
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, name, role, _superuser in USERS:
            self.stdout.write(f"  {username:<15} {role.value:<15} {name}")

    @transaction.atomic
    def seed_users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, name, role, superuser in USERS:
            first, _sep, last = name.partition(" ")
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "is_staff": superuser, "is_superuser": superuser},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role.value))
            users[username] = user
        return users

    @transaction.atomic
    def seed_registry(self) -> dict:
        agencies = {}
        for code, name, kind, email in AGENCIES:
            agencies[code], _created = Agency.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "contact_email": email}
            )
        for code, name, title, chief in INVESTIGATORS:
            Investigator.objects.get_or_create(
                agency=agencies[code], name=name, defaults={"title": title, "is_chief": chief}
            )
        return agencies

    def seed_warrants(self, users: dict, agencies: dict) -> None:
        now = timezone.now()
        kim, lee, park = users["officer.kim"], users["officer.lee"], users["reviewer.park"]
        plans = [
            # warrant number, agency, kind, days to deadline, final status, logged by
            ("2026-압수-1041", "scdpo", Warrant.Kind.ORDINARY, 9, Status.RECEIVED, kim),
            ("2026-압수-1077", "scdpo", Warrant.Kind.EMERGENCY, 1, Status.VERIFIED, kim),
            ("KNPA-2026-0388", "knpa-cyber", Warrant.Kind.ORDINARY, -2, Status.SIGNATURE_FAILED, lee),
            ("KNPA-2026-0412", "knpa-cyber", Warrant.Kind.ORDINARY, 5, Status.APPROVED, lee),
            ("2026-압수-0990", "scdpo", Warrant.Kind.ORDINARY, 3, Status.REJECTED, kim),
        ]
        for index, (number, code, kind, days, final, officer) in enumerate(plans):
            if Warrant.objects.filter(agency=agencies[code], warrant_number=number).exists():
                continue
            received = now - dt.timedelta(days=6 - index, hours=index)
            warrant = services.warrant_register(
                actor=officer,
                agency=agencies[code],
                warrant_number=number,
                court="Seoul Central District Court" if code == "scdpo" else "Suwon District Court",
                case_number=f"2026고단{3100 + index}",
                legal_basis="Criminal Procedure Act art. 215; Protection of Communications Secrets Act art. 13",
                kind=kind,
                received_at=received,
                received_via=Warrant.Via.PORTAL,
                deadline=now + dt.timedelta(days=days),
                period_start=received - dt.timedelta(days=90),
                period_end=received - dt.timedelta(days=1),
                targets=[
                    TargetInput("UID", f"user-{1000 + index}"),
                    TargetInput("PHONE", f"010-55{index}0-12{index}4"),
                ],
                upload=SimpleUploadedFile(f"{number}.pdf", demo_pdf(f"Warrant {number}"), "application/pdf"),
            )
            services.warrant_assign(warrant=warrant, user=park, actor=officer)
            self.advance(warrant, final, officer=officer, reviewer=park)

    def advance(self, warrant: Warrant, final: str, *, officer, reviewer) -> None:
        note = "Demo data"
        if final == Status.SIGNATURE_FAILED:
            services.warrant_transition(
                warrant=warrant, to=Status.SIGNATURE_FAILED, actor=officer, system=True, note="Demo: unsigned document"
            )
            return
        if final == Status.REJECTED:
            services.warrant_reject(warrant=warrant, actor=reviewer, note="Demo: outside the operator's service")
            return
        if final in {Status.VERIFIED, Status.APPROVED}:
            services.warrant_transition(warrant=warrant, to=Status.VERIFIED, actor=officer, system=True, note=note)
        if final == Status.APPROVED:
            services.warrant_approve(warrant=warrant, actor=reviewer, note=note)
