"""A run stopped before its plan was done (issue 14) and reordered by the schedule (issue 22):
a probe that never ran is NOT_MEASURED, never FAIL."""

from __future__ import annotations

from netcheck import evaluate, profile
from netcheck.result import Status
from netcheck.run import assess, preview


def test_an_unrun_dns_probe_is_not_measured_not_a_dns_failure() -> None:
    p = profile.load("demo")
    request = assess.Request(profile=p)
    runs = preview.plan_for(request).runs
    checks = evaluate.evaluate(p, [assess._not_run(r) for r in runs], request.site)
    dns = next(c for c in checks if c.id == "dns.services")
    assert dns.status is Status.NOT_MEASURED and "interrupted" in dns.reason
    assert not [c.id for c in checks if c.status is Status.FAIL]

