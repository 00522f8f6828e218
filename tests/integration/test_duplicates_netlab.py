"""Duplicates counted per direction against the impairment link's ground truth (issue 14:
truth 9 up / 25 down, netcheck had 0 / 25). A stateful STAMP reflector numbers every
request it receives (RFC 8762 4.2), so a request duplicated on the way out comes back
twice under two reflector numbers (an upstream duplicate), a reply duplicated on the way
back twice under one (a downstream duplicate)."""

from __future__ import annotations

import pytest

from tests.integration.stream_lab import call, call_truth, start_responder

pytestmark = pytest.mark.netlab


def test_duplicates_per_direction_match_the_link(netlab_impaired) -> None:  # type: ignore[no-untyped-def]
    lab = netlab_impaired("delay=5ms dup=3%", seed=9)
    _, port = start_responder(lab)
    m = call(lab, port, 8.0)
    t = call_truth(lab, port)
    assert m.ok, m.error
    v = m.values
    assert t.up.duplicates > 0 and t.down.duplicates > 0  # the seed duplicates both ways
    assert (v["duplicates_fwd"], v["duplicates_bwd"]) == (t.up.duplicates, t.down.duplicates)
    # a duplicate is not a loss, and the upstream copies' reflector numbers are no backward loss
    assert v["sent_fwd"] - v["received_fwd"] == t.up.lost
    assert v["sent_bwd"] - v["received_bwd"] == t.down.lost
    assert v["duplicates"] == max(t.up.duplicates, t.down.duplicates)
