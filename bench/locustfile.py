"""The users of `make bench`'s load test (bench/load.py starts ``locust --headless -f`` on this file).

Reads and writes of the legal team and an auditor against a running server. The sessions come from
bench/load.py (signed in with the second factor verified, written to the JSON file named by
BENCH_LOAD_SESSIONS): this file imports nothing of Django, locust's gevent patches stay in its process.
Every response is classified by its status: a 5xx (or no answer) is a failure, a 4xx an expected refusal
counted apart. The counts per class land in the JSON file named by BENCH_LOAD_RESULT when locust quits.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import time
from collections import Counter

from locust import HttpUser, between, events, task
from locust.clients import HttpSession

SESSIONS = json.loads(open(os.environ["BENCH_LOAD_SESSIONS"]).read())  # noqa: SIM115
STATUS: Counter[tuple[str, str]] = Counter()  # (request name, status class) -> count
TIMES: list[tuple[str, float]] = []  # (request name, milliseconds) of every answered request
# The pause between two clicks of one person, in seconds (BENCH_LOAD_WAIT="min,max"; bench/load.py sets it):
# 1-5 s, locust's own example of a person using a site (reading a list, opening a case, coming back).
WAIT = tuple(float(part) for part in os.environ.get("BENCH_LOAD_WAIT", "1,5").split(","))
_officer_numbers = itertools.count()
_created = itertools.count(1)


# Measured: the requests that start once every user is there (locust starts users a few a second, see
# bench/load.py, each clicking at once): the steady state, not the ramp. Server errors count throughout.
MEASURED: dict[str, float] = {}


@events.spawning_complete.add_listener
def _steady(**_kwargs):
    MEASURED.setdefault("from", time.time())


@events.test_stop.add_listener
def _stopped(**_kwargs):
    MEASURED.setdefault("to", time.time())


@events.request.add_listener
def _count(name, response_time, response, exception, **_kwargs):
    code = getattr(response, "status_code", 0) or 0
    STATUS[(name, "no answer" if exception and not code else f"{code // 100}xx")] += 1
    started = time.time() - response_time / 1000
    if code and "from" in MEASURED and started >= MEASURED["from"]:
        TIMES.append((name, round(response_time, 2)))


@events.quitting.add_listener
def _write(**_kwargs):
    with open(os.environ["BENCH_LOAD_RESULT"], "w") as out:
        json.dump(
            {
                "status": [[name, kind, count] for (name, kind), count in sorted(STATUS.items())],
                "times": TIMES,
                "measured_seconds": MEASURED.get("to", time.time()) - MEASURED.get("from", time.time()),
            },
            out,
        )


class Staff(HttpUser):
    abstract = True
    wait_time = between(*WAIT)  # a person clicking, not a script hammering

    def use(self, session: dict) -> None:
        self.client.cookies.set("sessionid", session["sessionid"])
        self.client.cookies.set("csrftoken", session["csrftoken"])
        self.csrf = session["csrftoken"]

    def get(self, url: str, name: str, *, api: bool = False):
        headers = {"Accept": "application/json"} if api else {"Accept": "text/html"}
        with self.client.get(url, name=name, headers=headers, catch_response=True, allow_redirects=False) as r:
            if r.status_code >= 500 or r.status_code == 0:
                r.failure(f"HTTP {r.status_code}")
            elif r.status_code >= 300:
                r.failure(f"HTTP {r.status_code} (signed out?)")  # a read of one's own case never redirects
            else:
                r.success()
            return r

    def post(self, url: str, name: str, payload: dict, *, session_csrf: str | None = None):
        headers = {"Accept": "application/json", "X-CSRFToken": session_csrf or self.csrf}
        with self.client.post(url, name=name, json=payload, headers=headers, catch_response=True) as r:
            if r.status_code >= 500 or r.status_code == 0:
                r.failure(f"HTTP {r.status_code}")
            else:
                r.success()  # a 4xx (a refusal the API describes) is counted apart, not a server error
            return r


class Officer(Staff):
    weight = 9

    def on_start(self) -> None:
        officers = SESSIONS["officers"]
        self.me = officers[next(_officer_numbers) % len(officers)]
        self.use(self.me)

    @task(4)
    def warrant_list(self) -> None:
        self.get("/warrants/", "read: warrant list (web)")

    @task(3)
    def api_list(self) -> None:
        self.get("/api/v1/warrants/", "read: API list", api=True)

    @task(3)
    def warrant_page(self) -> None:
        self.get(f"/warrants/{random.choice(self.me['warrants'])}/", "read: warrant page (web)")

    @task(2)
    def api_detail(self) -> None:
        self.get(f"/api/v1/warrants/{random.choice(self.me['warrants'])}/", "read: API detail", api=True)

    @task(2)
    def search(self) -> None:
        term = random.choice(["WD-", "압수", "고단", "Seoul", "user-1"])
        self.get(f"/warrants/?q={term}&status=RECEIVED", "read: search (web)")

    @task(2)
    def log_warrant(self) -> None:
        """Log a warrant through the API, assign the reviewer, who rejects it with a note."""
        now = dt.datetime.now(dt.UTC)
        number = f"LOAD-{os.getpid()}-{next(_created)}-{random.randrange(10**9)}"
        payload = {
            "agency": SESSIONS["agency"],
            "warrant_number": number,
            "court": "Seoul Central District Court",
            "legal_basis": "Criminal Procedure Act art. 215",
            "received_at": now.isoformat(),
            "deadline": (now + dt.timedelta(days=7)).isoformat(),
            "period_start": (now - dt.timedelta(days=30)).isoformat(),
            "period_end": (now - dt.timedelta(days=1)).isoformat(),
            "targets": [{"kind": "UID", "identifier": f"load-{number}"}],
        }
        created = self.post("/api/v1/warrants/", "write: log a warrant (API)", payload)
        if created.status_code != 201:
            return
        pk = created.json()["id"]
        reviewer = SESSIONS["reviewer"]
        assigned = self.post(
            f"/api/v1/warrants/{pk}/officers/", "write: assign reviewer (API)", {"username": reviewer["username"]}
        )
        if assigned.status_code >= 300:
            return
        # The reviewer's move, from a client of the reviewer's own (its own cookies), reported like the rest.
        with self.reviewer_client().post(
            f"/api/v1/warrants/{pk}/transitions/",
            name="write: reject with a note (API)",
            json={"to": "REJECTED", "note": "Load test: outside the operator's service."},
            headers={"Accept": "application/json", "X-CSRFToken": reviewer["csrftoken"]},
            catch_response=True,
        ) as r:
            if r.status_code >= 500 or r.status_code == 0:
                r.failure(f"HTTP {r.status_code}")
            else:
                r.success()

    def reviewer_client(self) -> HttpSession:
        if getattr(self, "_reviewer", None) is None:
            self._reviewer = HttpSession(base_url=self.host, request_event=self.environment.events.request, user=self)
            self._reviewer.cookies.set("sessionid", SESSIONS["reviewer"]["sessionid"])
            self._reviewer.cookies.set("csrftoken", SESSIONS["reviewer"]["csrftoken"])
        return self._reviewer


class Auditor(Staff):
    weight = 1

    def on_start(self) -> None:
        self.use(SESSIONS["auditor"])

    @task(3)
    def audit_log(self) -> None:
        self.get("/audit/", "read: audit log (web)")

    @task(2)
    def audit_api(self) -> None:
        self.get("/api/v1/audit/", "read: audit log (API)", api=True)
