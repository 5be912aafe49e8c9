"""The README's HI-1 example, run as it is written: its manage.py lines in this process (the same
commands, arguments and standard input), its curl lines with the real curl against a live server.
Only the host name is replaced (the live server's) and request.xml is an agency's message written
by tests/hi1/builder.py. A line of a kind this test does not know fails it: teach the test, or keep
the README to lines an operator can paste."""

import datetime as dt
import io
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from lxml import etree

from hi1 import xml
from requests_app import registry
from requests_app.models import Warrant
from tests import pki
from tests.hi1.builder import MessageBuilder, new_id

EXAMPLE_HOST = "https://warrantdesk.example"
MANAGE = [".venv/bin/python", "manage.py"]


def readme_example() -> list[str]:
    """The shell lines of the README's HI-1 example (continuations joined)."""
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = text[text.index("### HI-1 interface") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    block = block[: block.index("\n```")]
    return block.replace("\\\n", " ").splitlines()


def expand(line: str, variables: dict[str, str]) -> str:
    """$NAME and ${NAME:offset:length}, the two expansions the example uses."""
    line = re.sub(r"\$\{(\w+):(\d+):(\d+)\}", lambda m: variables[m[1]][int(m[2]) : int(m[2]) + int(m[3])], line)
    return re.sub(r"\$(\w+)", lambda m: variables[m[1]], line)


def manage(words: list[str], stdin: str = "") -> str:
    assert words[:2] == MANAGE, f"not a manage.py line: {words}"
    out = io.StringIO()
    call_command(*words[2:], stdout=out, **({"stdin": io.StringIO(stdin)} if stdin else {}))
    return out.getvalue()


@pytest.fixture
def scdpo(transactional_db, ca, at_receipt):
    """The agency as "The registry of signers" registers it: its CA and its chief investigator."""
    agency = registry.agency_save(code="scdpo", name="Seoul Central District Prosecutors' Office", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_a.anchors_pem, actor=None)
    registry.investigator_register(
        agency=agency, certificate=ca.chief_a.pem, name="Jung Daehyun", title="Chief", is_chief=True, actor=None
    )
    return agency


def test_the_readme_hi1_example_runs_as_written(scdpo, ca, live_server, tmp_path, monkeypatch):
    curl = shutil.which("curl")
    assert curl, "curl is needed (Debian: apt-get install curl)"
    ids = [new_id() for _ in range(3)]
    message = MessageBuilder(sender=xml.Endpoint("KR", "scdpo-hi1"))
    message.authorisation(ids[0], associated=ids[1:], reference="EPOC-2026-0777")
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    message.ldtask(
        ids[1],
        associated=[ids[0]],
        identifiers=[(("ETSI", "InternationalE164"), "821012345678")],
        start=start,
        end=start + dt.timedelta(days=60),
    )
    message.document(ids[2], pki.sign_pdf(pki.make_pdf(title="EPOC order"), ca.chief_a), associated=[ids[0]])
    (tmp_path / "request.xml").write_bytes(message.bytes())
    monkeypatch.chdir(tmp_path)
    variables: dict[str, str] = {}
    answers = []

    for line in readme_example():
        line = expand(line, variables)
        if assignment := re.fullmatch(r"(\w+)=\$\((.*) \| tail -n 1\)", line.split("   #")[0].strip()):
            variables[assignment[1]] = manage(shlex.split(assignment[2])).strip().splitlines()[-1]
        elif "<<<" in line:
            command, _sep, _password = line.partition("<<<")
            manage(shlex.split(command), stdin=secrets.token_urlsafe(18) + "\n")
        elif line.startswith(MANAGE[0]):
            manage(shlex.split(line, comments=True))
        elif line.startswith("curl "):
            words = [word.replace(EXAMPLE_HOST, live_server.url) for word in shlex.split(line, comments=True)]
            ran = subprocess.run(
                [curl, *words[1:], "-w", "\n%{http_code}", "-m", "60"], capture_output=True, check=True
            )
            body, _sep, code = ran.stdout.rpartition(b"\n")
            answers.append((int(code), body))
        else:
            pytest.fail(f"the README's HI-1 example has a line this test cannot run: {line!r}")

    (posted, posted_body), (fetched, _fetched_body) = answers
    assert (posted, fetched) == (200, 204)
    created = etree.fromstring(posted_body).findall(".//c:CREATEResponse/c:Identifier", xml.NS)
    assert sorted(e.text for e in created) == sorted(ids)
    assert Warrant.objects.get().warrant_number == "EPOC-2026-0777"
