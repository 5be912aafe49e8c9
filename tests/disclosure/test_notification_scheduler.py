"""`send_notifications --every N`: the loop `make run` starts next to the task worker."""

import datetime as dt
import io
import os
import signal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from disclosure import notifications
from disclosure.models import Notification
from tests.helpers import DELIVERED_AT


def test_the_loop_sends_what_is_due_on_each_run_and_logs_one_line_per_run(smtp, delivered):
    out = io.StringIO()

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        call_command("send_notifications", "--every", "0", "--max-runs", "3", stdout=out)

    runs = [line for line in out.getvalue().splitlines() if "] send_notifications: " in line]
    assert len(runs) == 3
    assert "3 sent, 0 failed" in runs[0]
    assert "0 sent, 0 failed" in runs[1] and "0 sent, 0 failed" in runs[2]
    assert len(smtp.messages) == 3
    assert out.getvalue().splitlines()[-1] == "send_notifications: stopped"


def test_a_failed_run_is_logged_and_the_loop_goes_on(db, monkeypatch):
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return notifications.SendResult(sent=2)

    monkeypatch.setattr("disclosure.management.commands.send_notifications.notifications_send_due", flaky)
    out = io.StringIO()

    call_command("send_notifications", "--every", "0", "--max-runs", "2", stdout=out)

    assert "run failed: RuntimeError: database is locked" in out.getvalue()
    assert "2 sent" in out.getvalue() and len(calls) == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_loop_cleanly_after_the_current_run(db, monkeypatch, signum):
    runs = []
    previous = signal.getsignal(signum)

    def run_then_signalled(*, batch, stop):
        runs.append(stop())
        os.kill(os.getpid(), signum)  # as `make run`'s cleanup (SIGTERM) or a Ctrl-C would, mid-run
        runs.append(stop())
        return notifications.SendResult()

    monkeypatch.setattr("disclosure.management.commands.send_notifications.notifications_send_due", run_then_signalled)
    out = io.StringIO()

    call_command("send_notifications", "--every", "30", "--max-runs", "2", stdout=out)

    assert runs == [False, True]  # the run is told to stop between groups; no second run
    assert out.getvalue().splitlines()[-1] == "send_notifications: stopped"
    assert signal.getsignal(signum) == previous  # handlers restored


def test_a_stop_between_groups_leaves_the_rest_due_and_nothing_sending(smtp, delivered, settings):
    settings.WARRANTDESK_NOTIFY_GROUP = 1
    asked = []

    def stop():
        asked.append(True)
        return len(asked) > 2  # the first group goes out, then the loop is asked to stop

    with time_machine.travel(DELIVERED_AT + dt.timedelta(days=31), tick=False):
        result = notifications.notifications_send_due(stop=stop)

    assert result.sent == 1 and len(smtp.messages) == 1
    assert not Notification.objects.filter(status=Notification.Status.SENDING).exists()
    assert Notification.objects.filter(status=Notification.Status.PENDING).count() == 2


def test_a_negative_interval_is_refused(db):
    with pytest.raises(CommandError, match="--every"):
        call_command("send_notifications", "--every", "-1", stdout=io.StringIO())
