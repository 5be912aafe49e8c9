"""The whole journey in a real browser, on the app started as `make run` starts it (scripts/serve.sh:
demo data, task worker, demo mode), with the downloadable signed samples and no code: once in
English and once in Korean. A screenshot of every step goes to test-results/screenshots/<lang>/
(git-ignored; CI keeps it as the run's artefact).

Only CSS ids and classes and URLs are used to find things, so the same walk reads both languages;
the Korean run checks that the pages are in Korean.
"""

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django_otp.oath import TOTP

from demo.management.commands.seed_demo import DEMO_PASSWORD, DEMO_TOTP_KEY
from tests.helpers import free_port

ROOT = Path(settings.BASE_DIR)
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-results" / "screenshots"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
SEOUL = ZoneInfo("Asia/Seoul")
WAIT_MS = 60_000  # background work (signature check, export, identity sheet) by the task worker


@pytest.fixture(scope="module")
def served():
    """scripts/serve.sh on a free port with a fresh data directory, as `make run` runs it."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}; `make test` installs it")
    port, data = free_port(), Path(tempfile.mkdtemp(prefix="warrantdesk-journey."))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env |= {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WARRANTDESK_VAR_DIR": str(data / "var"),
        "WARRANTDESK_PYTHON": sys.executable,
        "NOTIFY_EVERY": "3600",
    }
    log = (data / "serve.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "serve.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the app did not start:\n" + (data / "serve.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


class Journey:
    def __init__(self, page, url: str, lang: str):
        self.page, self.url, self.lang, self.step = page, url, lang, 0
        self.started = time.monotonic()
        self.shots = SHOTS / lang
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True)

    def shot(self, name: str, *, full_page: bool = True) -> None:
        from playwright.sync_api import expect

        self.step += 1
        expect(self.page.locator("html")).to_have_attribute("lang", self.lang)
        if self.lang == "ko":
            headings = " ".join(self.page.locator("main h1, main h2").all_inner_texts())
            assert HANGUL.search(headings), f"{name}: the headings are not in Korean: {headings}"
        self.page.screenshot(path=str(self.shots / f"{self.step:02d}-{name}.png"), full_page=full_page)
        print(f"{self.lang} {self.step:02d}-{name} at {time.monotonic() - self.started:.1f} s")

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def sign_in(self, username: str) -> None:
        """The password, then the second factor: the current code of the demo's published TOTP key (a
        code is accepted once: signed in again within its 30 s, the next one is awaited)."""
        self.go("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", DEMO_PASSWORD)
        self.page.click("main form button[type=submit]")
        self.page.wait_for_url(re.compile(r".*/accounts/two-factor/.*"))
        for attempt in range(2):
            self.page.fill("#id_code", f"{TOTP(DEMO_TOTP_KEY).token():06d}")
            self.page.click("main form.form button[type=submit]")
            self.page.wait_for_load_state()
            if "/accounts/two-factor/" not in self.page.url:
                return
            time.sleep(31 - time.time() % 30)  # the code was used already: wait for the next one
        raise AssertionError(f"{username}: the second factor was refused")

    def sign_out(self) -> None:
        self.page.click("form[action='/accounts/logout/'] button")

    def download(self, selector: str) -> Path:
        with self.page.expect_download() as info:
            self.page.click(selector)
        target = self.shots / info.value.suggested_filename
        info.value.save_as(target)
        return target

    def wait_for(self, selector: str, *, reload: bool = False) -> None:
        """An element that appears when background work is done. The page's htmx panels poll and
        reload by themselves; with ``reload``, where nothing on the page polls yet (a task still
        queued), reload every second as a person would."""
        from playwright.sync_api import expect

        if not reload:
            expect(self.page.locator(selector).first).to_be_visible(timeout=WAIT_MS)
            return
        deadline = time.monotonic() + WAIT_MS / 1000
        while not self.page.locator(selector).first.is_visible():
            if time.monotonic() > deadline:
                raise AssertionError(f"{selector} did not appear within {WAIT_MS / 1000:.0f} s")
            self.page.wait_for_timeout(1000)
            self.page.reload()


def walk(page, url: str, lang: str) -> None:
    from playwright.sync_api import expect

    j = Journey(page, url, lang)

    # The language is chosen on the login page and kept (a cookie) for everyone after.
    j.go("/accounts/login/")
    page.click(f"button[name=language][value={lang}]")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    j.shot("login")

    # An intake officer logs the sample warrant: downloaded, the form filled in as it reads.
    j.sign_in("officer.kim")
    expect(page).to_have_url(f"{url}/warrants/")
    j.shot("warrant-list")
    page.click("a[href='/warrants/new/']")
    page.click("#demo-sample-fill")
    sample = j.download("#demo-sample-warrant")
    number = page.input_value("#id_warrant_number")
    assert number.startswith("DEMO-") and page.input_value("#id_targets")
    page.set_input_files("#id_document", str(sample))
    j.shot("log-warrant")
    page.click("form.form .form-actions button[type=submit]")
    expect(page.locator(".case-head h1")).to_have_text(re.compile(r"WD-\d{4}-\d{6}"))
    reference = page.inner_text(".case-head h1").strip()
    warrant_url = page.url
    j.wait_for("#signature-panel .badge--sig-valid")  # checked by the task worker
    j.shot("valid-verdict")

    # Two reviewers get the case from the pick-list.
    for reviewer in ("reviewer.park", "reviewer.jung"):
        page.select_option("#id_username", reviewer)
        page.click("form[action$='/assign/'] button[type=submit]")
        expect(page.locator(".people")).to_contain_text(reviewer)
    j.shot("reviewers-assigned")
    j.sign_out()

    # A reviewer approves, confirming the case by name; then exports, hands over, issues a link.
    j.sign_in("reviewer.park")
    page.goto(warrant_url)
    approve = page.locator("form:has(input[name=to][value=APPROVED])")
    approve.locator("#move-approved-confirm").check()
    expect(approve.locator("label[for=move-approved-confirm]")).to_contain_text(reference)
    j.shot("approve-confirmed")
    approve.locator("button[type=submit]").click()
    expect(page.locator(".case-head .badge--approved")).to_be_visible()
    page.click("#export-panel form[action$='/exports/start/'] button[type=submit]")
    j.wait_for("#export-panel .export--ready")
    j.shot("export-ready")
    now = dt.datetime.now(SEOUL) - dt.timedelta(minutes=1)
    page.click("#export-panel details:nth-of-type(1) summary")
    page.fill("#export-panel [id^=d-recipient-]", "Inspector Han Jiwoo")
    page.fill("#export-panel [id^=d-at-]", f"{now:%Y-%m-%dT%H:%M}")
    page.click("#export-panel form[action$='/deliver/'] button[type=submit]")
    expect(page.locator(".alert--success")).to_be_visible()
    page.click("#export-panel details:nth-of-type(2) summary")
    page.fill("#export-panel [id^=l-recipient-]", "Inspector Han Jiwoo")
    page.check("#l-confirm")
    page.click("#export-panel form[action$='/link/'] button[type=submit]")
    expect(page.locator(".alert--success")).to_contain_text(f"{url}/d/")
    j.shot("delivered-and-link")
    j.sign_out()

    # The officer logs the sample follow-up request (pseudonyms of the delivered export).
    j.sign_in("officer.kim")
    page.goto(warrant_url)
    page.click("a[href$='/follow-ups/new/']")
    page.click("#demo-sample-fill")
    request_pdf = j.download("#demo-sample-request")
    expect(page.locator("input[name=pick]:checked")).to_have_count(2)
    page.set_input_files("#id_document", str(request_pdf))
    j.shot("log-follow-up")
    page.click("form.form .form-actions button[type=submit]")
    j.wait_for("#signature-panel .badge--sig-valid")
    followup_url = page.url
    j.wait_for("#followup-status.badge--fu-in_review")
    j.shot("follow-up-in-review")
    j.sign_out()

    # Two reviewers decide the reveal, each confirming.
    for reviewer in ("reviewer.park", "reviewer.jung"):
        j.sign_in(reviewer)
        page.goto(followup_url)
        for choice in page.locator(".decision-form input[type=radio][value=approve]").all():
            choice.check()
        page.check("#decide-confirm")
        j.shot(f"decision-{reviewer.split('.')[1]}")
        page.click(".decision-form button[type=submit]")
        expect(page.locator(".alert--success")).to_be_visible()
        if reviewer == "reviewer.jung":
            j.wait_for("#sheet-panel .export--ready", reload=True)
            j.shot("identity-sheet-ready")
        j.sign_out()

    # The auditor lands on the audit log and opens the case's history from it.
    j.sign_in("auditor.choi")
    expect(page).to_have_url(f"{url}/audit/")
    j.shot("auditor-lands-on-audit-log", full_page=False)  # the first screen of a long log
    page.click(f"a[href='/audit/cases/{reference}/']")
    expect(page.locator("h1")).to_have_text(reference)
    expect(page.locator(".timeline .timeline__item").first).to_be_visible()
    assert "/download/" not in page.content()
    j.shot("auditor-case-history")
    j.sign_out()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the journey serves the app as make run does (SQLite, its own data directory): run once, on SQLite",
)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_whole_journey_in_a_browser_with_the_demo_documents(served, lang):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        context = browser.new_context(
            accept_downloads=True, locale="en-GB", timezone_id="Asia/Seoul", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(30_000)  # a loaded CI machine (2 cores shared with the worker)
        try:
            walk(context.new_page(), served, lang)
        finally:
            browser.close()
