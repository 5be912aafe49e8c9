"""``faults.hold``: the browser journey's pause at a named point, and nothing anywhere else."""

from warrantdesk import faults


def test_a_hold_sleeps_only_at_the_point_it_names(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    monkeypatch.delenv("WARRANTDESK_FAULT_HOLD", raising=False)
    faults.hold("export.messages")
    monkeypatch.setenv("WARRANTDESK_FAULT_HOLD", "export.messages=2.5")
    faults.hold("export.built")
    faults.hold("export.messages")
    monkeypatch.setenv("WARRANTDESK_FAULT_HOLD", "export.messages")  # no seconds: no hold
    faults.hold("export.messages")
    assert slept == [2.5]
