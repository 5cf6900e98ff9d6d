# The fault suite's sustained-max rule (load-tests/sustain.py): a probe holds its rate only when
# it was sent on time and its p99 stayed flat across windows.
import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("sustain", ROOT / "load-tests" / "sustain.py")
sustain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sustain)


def report(rate, p99s, not_sent=0, requests=100_000):
    return {"req_per_s": rate, "tally": {"requests": requests, "not_sent": not_sent},
            "windows": [{"from_s": i * 10, "latency": {"count": 1000, "p99_ms": p}}
                        for i, p in enumerate(p99s)]}


def test_a_flat_probe_on_time_holds():
    assert sustain.verdict(report(10_000, [5, 6, 12, 9]), 10_000, 100)["held"]


def test_a_p99_that_climbs_does_not_hold():
    # Under the absolute limit, but 10x the best window: merges are catching up.
    v = sustain.verdict(report(10_000, [5, 6, 50, 9]), 10_000, 100)
    assert not v["held"] and v["p99_worst_ms"] == 50
    assert not sustain.verdict(report(10_000, [60, 70, 120]), 10_000, 100)["held"]


def test_a_probe_that_fell_behind_does_not_hold():
    assert not sustain.verdict(report(9_000, [5, 6]), 10_000, 100)["held"]
    assert not sustain.verdict(report(10_000, [5, 6], not_sent=500), 10_000, 100)["held"]
    # A handful unsent at the deadline is the open loop's edge, not falling behind.
    assert sustain.verdict(report(10_000, [5, 6], not_sent=20), 10_000, 100)["held"]
