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


def test_diagram_names_role_address_and_method_from_the_catalogue_never_the_run_title() -> None:
    """The run title ("per-hop trace to ...") and the raw method name are English/internal:
    the diagram shows the target's role (typed Role param), its address, and the method and
    confidence from the catalogue (issue 18: by key, never by English text)."""
    doc = _doc()
    de = Catalogue("de")
    [d] = pathdiagram.diagrams(doc, de)
    assert d.title == "Pfad zum Ziel sbc (198.51.100.10)"  # "sbc" has no target.* key: shown as named
    assert de.t("method.udp-ttl-raw") in d.caption and "udp-ttl-raw" not in d.caption
    assert "Aussagekraft: hoch" in d.caption
    assert ">sbc</text>" in d.svg and ">198.51.100.10</text>" in d.svg
    assert EVIL not in d.title + d.caption  # the measurement's own target text is never used


def test_diagram_sits_in_the_fault_finding_and_clean_paths_only_in_the_appendix() -> None:
    """A segment at fault: the diagram is in that finding's card (the page limits hold);
    a clean path has nothing to say in the body and is drawn in the appendix only."""
    from netcheck.reports.options import RenderOptions

    page = html.render_text(_doc(), "en", RenderOptions(appendix=False))
    card = page.split("fault location: path to")[1].split('<div class="card')[0]
    assert '<figure class="pathdiagram">' in card
    clean = tuple([1.0] * 20)
    hops = [HopSamples(i + 1, a, clean) for i, a in enumerate(("192.168.1.1", "100.64.0.1", "198.51.100.10"))]
    m = Measurement(id="path_hops:sbc", probe="path_hops", target="x", method="udp-ttl-raw",
                    started_utc="2026-01-01T00:00:00.000Z", duration_s=1.0,
                    values={"segments": segments(hops, gateway="192.168.1.1", target="198.51.100.10",  # type: ignore[dict-item]
                                                 reached=True), "address": "198.51.100.10"})
    doc = _with(make_result(), m, faultloc.fault_check("sbc", "198.51.100.10", m))
    assert '<figure class="pathdiagram">' not in html.render_text(doc, "en", RenderOptions(appendix=False))
    with_appendix = html.render_text(doc, "en", RenderOptions(appendix=True)).split('id="appendix"')[1]
    assert '<figure class="pathdiagram">' in with_appendix and "Path to sbc (198.51.100.10)" in with_appendix
