"""A follow-up request through HI-1: an LDTask of type "follow-up" on a delivered Authorisation, naming
pseudonyms of the delivered package, with its signed document; logged through disclosure's service."""

import datetime as dt
import io
import json
import zipfile

from django.db.models import Count
from django.test import Client
from lxml import etree

from demo.generator import generate
from disclosure.models import Account, Export
from disclosure.packages import package_open
from hi1 import xml
from hi1.models import Object
from requests_app import services
from requests_app.models import FollowUpRequest, FollowUpToken, Warrant
from tests import pki
from tests.helpers import run_export
from tests.hi1.builder import MessageBuilder, new_id, warrant_message
from tests.hi1.test_hi1 import URL, post

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_a_follow_up_arrives_as_an_ldtask_naming_pseudonyms(
    hi1_token, ca, signed_pdf, immediate_tasks, reviewer, admin_user, django_capture_on_commit_callbacks
):
    generate(accounts=12, rooms=2, messages=80, seed=7, start=START, days=30)
    busiest = Account.objects.annotate(n=Count("messages")).order_by("-n", "uid").first()
    data, ids = warrant_message(
        signed_pdf,
        start=START,
        end=START + dt.timedelta(days=30),
        identifiers=[(("warrantdesk", "AccountID"), busiest.uid)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post(data, hi1_token).status_code == 200
    warrant = Warrant.objects.get()
    services.warrant_assign(warrant=warrant, user=reviewer, actor=admin_user)
    services.warrant_approve(warrant=warrant, actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        export = run_export(warrant, reviewer)
    query = MessageBuilder()
    query.get(ids["task"])
    post(query.bytes(), hi1_token)  # the delivery: the warrant is now delivered
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {hi1_token}").status_code == 200
    export = Export.objects.get(pk=export.pk)
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        tokens = [p["token"] for p in json.loads(archive.read("conversations.json"))["participants"]["pseudonymised"]]
    assert tokens

    task_id, doc_id = new_id(), new_id()
    follow_up = MessageBuilder()
    follow_up.ldtask(
        task_id,
        associated=[ids["auth"]],
        identifiers=[(("warrantdesk", "Pseudonym"), f"{tokens[0]}|Sent the ransom note")],
        start=START,
        end=START + dt.timedelta(days=30),
        request_type="follow-up",
    )
    follow_up.document(doc_id, pki.sign_pdf(pki.make_pdf(title="Follow-up"), ca.chief_a), associated=[task_id])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(follow_up.bytes(), hi1_token)
    xml.validate(response.content)
    root = etree.fromstring(response.content)
    assert root.find(".//c:ErrorInformation", xml.NS) is None, response.content.decode()
    request = FollowUpRequest.objects.get()
    assert [t.token for t in request.tokens.all()] == [tokens[0]]
    assert request.tokens.get().validity == FollowUpToken.Validity.VALID
    assert Object.objects.get(object_id=task_id).follow_up == request

    status = MessageBuilder()
    status.get(task_id)
    answer = etree.fromstring(post(status.bytes(), hi1_token).content)
    assert answer.findtext(".//common:Value", namespaces=xml.NS) in {"AwaitingApproval", "Invalid"}
