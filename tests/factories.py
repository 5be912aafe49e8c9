import datetime as dt
import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from demo.management.commands.seed_demo import demo_pdf
from disclosure.models import Account, Membership, Message, Room
from requests_app.models import Agency, Investigator
from warrantdesk.roles import Role

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=Role(extracted).value))
        self.save()


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"Agency {n}")
    kind = Agency.Kind.POLICE


class InvestigatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Investigator

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Investigator {n}")
    is_chief = True


class AccountFactory(factory.django.DjangoModelFactory):
    """A chat account; its matching columns (phone_normalized, email_normalized) follow phone and email."""

    class Meta:
        model = Account

    uid = factory.Sequence(lambda n: f"u-{n}")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    phone = ""
    email = ""
    phone_normalized = factory.LazyAttribute(
        lambda account: Account.normalized_fields(phone=account.phone)["phone_normalized"]
    )
    email_normalized = factory.LazyAttribute(
        lambda account: Account.normalized_fields(email=account.email)["email_normalized"]
    )


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    external_id = factory.Sequence(lambda n: f"room-{n}")
    kind = Room.Kind.GROUP


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    room = factory.SubFactory(RoomFactory)
    account = factory.SubFactory(AccountFactory)
    joined_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=365))


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    room = factory.SubFactory(RoomFactory)
    sender = factory.SubFactory(AccountFactory)
    sent_at = factory.LazyFunction(timezone.now)
    body = "hello"


def pdf_bytes(title: str = "Warrant") -> bytes:
    return demo_pdf(title)


_WARRANT_NUMBERS = itertools.count(1)


def warrant_fields(agency, **overrides) -> dict:
    """The fields of a warrant received two hours ago, due in a week. A deadline given without a
    receipt time moves the receipt a week before it when needed: a deadline is always after receipt."""
    now = timezone.now()
    if "deadline" in overrides and "received_at" not in overrides:
        overrides["received_at"] = min(now - dt.timedelta(hours=2), overrides["deadline"] - dt.timedelta(days=7))
    fields = {
        "agency": agency,
        "warrant_number": f"2026-TEST-{next(_WARRANT_NUMBERS)}",  # distinct: the same number twice is a duplicate
        "court": "Seoul Central District Court",
        "case_number": "2026고단1",
        "legal_basis": "Criminal Procedure Act art. 215",
        "received_at": now - dt.timedelta(hours=2),
        "deadline": now + dt.timedelta(days=7),
        "period_start": now - dt.timedelta(days=30),
        "period_end": now - dt.timedelta(days=1),
    }
    fields.update(overrides)
    return fields
