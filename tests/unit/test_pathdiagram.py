"""The report's path diagram: the segment named by the fault-location check is the one drawn
red, hostile hop addresses are escaped, an unmeasured segment is drawn as such."""

from __future__ import annotations

import msgspec

from netcheck.analysis.pathseg import HopSamples, segments
from netcheck.evaluate import faultloc
from netcheck.i18n import Catalogue
from netcheck.reports import html, pathdiagram, svg
from netcheck.result import Measurement
from tests.unit.test_store import make_result

EVIL = "<script>x</script>"


def _doc(reached: bool = True):  # type: ignore[no-untyped-def]
    clean, lossy = tuple([1.0] * 20), tuple(None if i % 4 == 0 else 1.0 for i in range(20))
    hops = [HopSamples(1, "192.168.1.1", clean), HopSamples(2, "100.64.0.1", lossy),
            HopSamples(3, "203.0.113.1", lossy), HopSamples(4, "198.51.100.10", lossy)]
    segs = segments(hops, gateway="192.168.1.1", target="198.51.100.10" if reached else EVIL, reached=reached)
    m = Measurement(id="path_hops:sbc", probe="path_hops", target=EVIL, method="udp-ttl-raw",
                    started_utc="2026-01-01T00:00:00.000Z", duration_s=1.0, values={"segments": segs})  # type: ignore[dict-item]
    base = make_result()
    check = faultloc.fault_check("sbc", "198.51.100.10", m)
    return _with(base, m, check)


def test_segment_at_fault_is_red_and_text_is_escaped() -> None:
    doc = _doc()
    [d] = pathdiagram.diagrams(doc, Catalogue("de"))
    assert d.fault == "site_edge"
    assert f'fill="{svg.RED}" font-weight="bold">Standort-Router / Uplink \u26a0' in d.svg
    page = html.render_text(doc, "de")
    assert "Wo liegt das Problem?" in page and EVIL not in page and "&lt;script&gt;" in page


def test_unreached_target_draws_the_provider_segment_as_unmeasured() -> None:
    [d] = pathdiagram.diagrams(_doc(reached=False), Catalogue("en"))
    assert "not seen on this path" in d.svg and 'stroke-dasharray="6 4"' in d.svg


def _with(base, m, check):  # type: ignore[no-untyped-def]
    """``base`` plus one measurement and its check, with verdict and counts derived again."""

    from netcheck.result import summary_of, verdict_of

    checks = [*base.checks, check]
    return msgspec.structs.replace(base, measurements=[*base.measurements, m], checks=checks,
                                   verdict=verdict_of(checks), summary=summary_of(checks))
