"""Demo data for `make run`: agencies, investigators, the legal team, and warrants in several states.

Idempotent: running it again changes nothing that is already there.
"""

import base64
import datetime as dt
import hashlib
from contextlib import nullcontext
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo import pki as demo_pki
from demo import samples
from demo.generator import generate
from disclosure import keys as disclosure_keys
from disclosure import services as disclosure_services
from disclosure.models import Account, Delivery
from requests_app import registry, services
from requests_app.models import Agency, Investigator, Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from warrantdesk.exceptions import DomainError
from warrantdesk.roles import Role, sync_roles

DEMO_PASSWORD = "warrantdesk-demo"
# The demo's second factor: every demo user is enrolled with this TOTP key (demo only: it is published
# here and printed by `make run`), so that anyone can add it to an authenticator app, or compute the
# code (`oathtool --totp -b KEY`; the browser journey does it with django-otp's own TOTP).
DEMO_TOTP_KEY = b"warrantdesk-demo-2fa"  # 20 bytes, as authenticator apps expect
DEMO_TOTP_BASE32 = base64.b32encode(DEMO_TOTP_KEY).decode()
DEMO_SEED = 1
STORE_DAYS = 120
NO_BACKGROUND_TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}

USERS = [
    # username, full name, role, is_superuser
    ("officer.kim", "Kim Minji", Role.INTAKE_OFFICER, False),
    ("officer.lee", "Lee Junho", Role.INTAKE_OFFICER, False),
    ("reviewer.park", "Park Seoyeon", Role.REVIEWER, False),
    ("reviewer.jung", "Jung Hana", Role.REVIEWER, False),  # a second reviewer: a reveal takes two
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
    return samples.text_pdf([title], font_size=18)


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
        self.seed_conversations()
        self.seed_warrants(users, agencies)
        self.seed_sample_targets()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def print_logins(self) -> None:
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, name, role, _superuser in USERS:
            self.stdout.write(f"  {username:<15} {role.value:<15} {name}")
        self.stdout.write(
            f"Second factor (demo only; the same for all): add the key {DEMO_TOTP_BASE32} to an authenticator "
            f"app, or run: oathtool --totp -b {DEMO_TOTP_BASE32}"
        )

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
            # Enrolled for two-factor sign-in with the published demo key (unless enrolled already).
            if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(user=user, name="demo", key=DEMO_TOTP_KEY.hex(), confirmed=True)
            users[username] = user
        return users

    def seed_registry(self) -> dict:
        """Agencies with a demo CA each, and their investigators registered by certificate."""
        directory = Path(settings.VAR_DIR) / "demo-pki"
        agencies = {}
        for code, name, kind, email in AGENCIES:
            agency = registry.agency_save(code=code, name=name, kind=kind, contact_email=email, actor=None)
            people = [row for row in INVESTIGATORS if row[0] == code]
            chief = next(row for row in people if row[3])
            ordinary = next(row for row in people if not row[3])
            keys = demo_pki.agency_pki(directory, code, name, chief[1], ordinary[1])
            registry.anchor_add(agency=agency, certificate=keys.root.pem, actor=None)
            for (_code, person, title, is_chief), identity in ((chief, keys.chief), (ordinary, keys.investigator)):
                fingerprint = hashlib.sha256(identity.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
                if not Investigator.objects.filter(certificate_sha256=fingerprint).exists():
                    registry.investigator_register(
                        agency=agency, certificate=identity.pem, name=person, title=title, is_chief=is_chief, actor=None
                    )
            agencies[code] = (agency, keys)
        return agencies

    def seed_conversations(self) -> None:
        """A small generated conversation store covering the last four months (seed 1)."""
        summary = generate(
            accounts=240, rooms=24, messages=20_000, seed=DEMO_SEED, start=self.store_start(), days=STORE_DAYS
        )
        if not summary.already_generated:
            self.stdout.write(f"Conversations: {summary.messages:,} messages in {sum(summary.rooms.values())} rooms.")

    @staticmethod
    def store_start() -> dt.datetime:
        first = Account.objects.filter(uid__startswith=f"gen-{DEMO_SEED}-").order_by("created_at").first()
        return first.created_at if first else timezone.now() - dt.timedelta(days=STORE_DAYS)

    def demo_targets(self, index: int) -> list[TargetInput]:
        """Two of the busiest generated accounts, named once by account ID and once by phone number;
        the first warrant also names a number that matches no account, as happens."""
        busiest = list(
            Account.objects.filter(uid__startswith=f"gen-{DEMO_SEED}-")
            .annotate(n=Count("messages"))
            .order_by("-n", "uid")[2 * index : 2 * index + 2]
        )
        targets = [TargetInput("UID", busiest[0].uid), TargetInput("PHONE", busiest[1].phone or busiest[1].uid)]
        if index == 0:
            targets.append(TargetInput("PHONE", "010-0000-0000"))
        return targets

    def seed_sample_targets(self) -> None:
        """Two accounts of the store, not named by the demo warrants, for the signed sample warrant that
        the "Log a warrant" page offers in demo mode (demo.samples): busy ones with an e-mail address and
        a phone number, so that the sample's user notices go out by e-mail (which accounts are busiest
        depends on the time of day the store was generated at; an account without an address would get
        a paper letter instead, and the walk through the demo would stop short of the e-mail)."""
        busiest = (
            Account.objects.filter(uid__startswith=f"gen-{DEMO_SEED}-")
            .annotate(n=Count("messages"))
            .order_by("-n", "uid")
        )
        named = {target.identifier for index in range(6) for target in self.demo_targets(index)}
        accounts = [
            account
            for account in busiest[12:60]
            if account.email and account.phone and account.uid not in named and account.phone not in named
        ][:2]
        samples.save_sample_targets(
            [{"kind": "UID", "identifier": accounts[0].uid}]
            + [{"kind": "PHONE", "identifier": account.phone} for account in accounts[1:] if account.phone]
        )

    def seed_warrants(self, users: dict, agencies: dict) -> None:
        now = timezone.now()
        kim, lee, park, jung = (
            users[name] for name in ("officer.kim", "officer.lee", "reviewer.park", "reviewer.jung")
        )
        plans = [
            # warrant number, agency, kind, days to deadline, final status, logged by, signed by the chief?
            ("2026-압수-1041", "scdpo", Warrant.Kind.ORDINARY, 9, Status.RECEIVED, kim, True),
            ("2026-압수-1077", "scdpo", Warrant.Kind.EMERGENCY, 1, Status.VERIFIED, kim, True),
            ("KNPA-2026-0388", "knpa-cyber", Warrant.Kind.ORDINARY, -2, Status.SIGNATURE_FAILED, lee, False),
            ("KNPA-2026-0412", "knpa-cyber", Warrant.Kind.ORDINARY, 5, Status.APPROVED, lee, True),
            ("2026-압수-0990", "scdpo", Warrant.Kind.ORDINARY, 3, Status.REJECTED, kim, True),
            # exported and handed over 35 days ago: its user notices are due (the sender of `make run`
            # e-mails them; a target without an e-mail address stays listed for a paper letter)
            ("2026-압수-0871", "scdpo", Warrant.Kind.ORDINARY, -38, Status.DELIVERED, kim, True),
        ]
        for index, (number, code, kind, days, final, officer, by_chief) in enumerate(plans):
            agency, keys = agencies[code]
            if Warrant.objects.filter(agency=agency, warrant_number=number).exists():
                continue
            age = dt.timedelta(days=45) if final == Status.DELIVERED else dt.timedelta(days=6 - index, hours=index)
            received = now - age
            signer = keys.chief if by_chief else keys.investigator
            pdf = demo_pki.sign_pdf(demo_pdf(f"Warrant {number}"), signer, keys.root)
            # The first warrant's check is left to the task worker that `make run` starts, so the
            # demo shows it happen; the others are checked here, right away.
            background = final == Status.RECEIVED
            with nullcontext() if background else override_settings(TASKS=NO_BACKGROUND_TASKS):
                warrant = services.warrant_register(
                    actor=officer,
                    agency=agency,
                    warrant_number=number,
                    court="Seoul Central District Court" if code == "scdpo" else "Suwon District Court",
                    case_number=f"2026고단{3100 + index}",
                    legal_basis="Criminal Procedure Act art. 215; Protection of Communications Secrets Act art. 13",
                    kind=kind,
                    received_at=received,
                    received_via=Warrant.Via.PORTAL,
                    deadline=now + dt.timedelta(days=days),
                    period_start=received - dt.timedelta(days=60),
                    period_end=received - dt.timedelta(days=1),
                    targets=self.demo_targets(index),
                    upload=SimpleUploadedFile(f"{number}.pdf", pdf, "application/pdf"),
                )
            services.warrant_assign(warrant=warrant, user=park, actor=officer)
            services.warrant_assign(warrant=warrant, user=jung, actor=officer)
            if background:
                continue
            document = services.current_warrant_document(warrant)
            assert document is not None, "the warrant was just logged with its document"
            services.document_check_signature(document=document, actor=officer)
            if final in {Status.APPROVED, Status.DELIVERED}:
                services.warrant_approve(warrant=warrant, actor=park, note="Demo: scope and signature in order")
            if final == Status.DELIVERED:
                self.deliver(warrant, officer, delivered_at=received + dt.timedelta(days=10))
            elif final == Status.REJECTED:
                services.warrant_reject(warrant=warrant, actor=park, note="Demo: outside the operator's service")

    def deliver(self, warrant: Warrant, officer, *, delivered_at: dt.datetime) -> None:
        """Export the warrant here and now, and record the hand-over at ``delivered_at``."""
        try:
            disclosure_keys.require_kek()
            disclosure_keys.signing_key()
        except DomainError as missing:
            self.stdout.write(f"{warrant.reference} stays approved, not exported: {missing.message}")
            return
        with override_settings(TASKS=NO_BACKGROUND_TASKS):
            export = disclosure_services.export_start(warrant=warrant, actor=officer)
        export = disclosure_services.export_run(export=export)
        disclosure_services.export_record_delivery(
            export=export,
            actor=officer,
            channel=Delivery.Channel.IN_PERSON,
            recipient="Inspector Han Jiwoo",
            delivered_at=delivered_at,
        )
