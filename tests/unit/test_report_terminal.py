"""The technician's terminal (issue 18, item 8): each probe line says what it found, and
the run ends with the open points and their remedies and, last of all, the verdict."""

from __future__ import annotations

from netcheck.reports import terminal
from netcheck.result import ErrorKind, ProbeError
from tests import docgen


def _measurement(doc_name: str, mid: str):  # type: ignore[no-untyped-def]
    return next(m for m in docgen.named(doc_name).measurements if m.id == mid)


def test_a_refused_port_is_not_ok_and_a_call_shows_its_figures() -> None:
    refused = _measurement("stimme-no-go", "tcp:0")
    assert terminal.outcome(refused, "de") == "abgewiesen 1"
    call = _measurement("stimme-no-go", "stream:platform")
    assert terminal.outcome(call, "en") == "RTT 131.5 ms, jitter 14.1 ms, loss 6.67 %"


def test_a_probe_error_is_named() -> None:
    import msgspec

    m = msgspec.structs.replace(_measurement("stimme-go", "tcp:0"), error=ProbeError(
        kind=ErrorKind.TIMEOUT, detail="no reply within 2 s"))
    assert terminal.outcome(m, "de") == "fehlgeschlagen: Zeitüberschreitung (Systemmeldung: „no reply within 2 s“)"


def test_incomplete_run_ends_with_open_points_remedies_and_the_verdict_last() -> None:
    lines = terminal.closing(docgen.named("managed-com-business-incomplete"), "de")
    assert lines[0] == "Offene Punkte (nicht gemessen):"
    assert any(line.startswith("    Maßnahme: ") for line in lines)
    assert lines[-1].startswith("ERGEBNIS: UNVOLLSTÄNDIG")
    fixes = [line for line in lines if line.startswith("    Maßnahme: ")]
    assert len(fixes) == len(set(fixes))  # one remedy covering several points is said once


def test_go_run_ends_with_the_verdict_only() -> None:
    # 17 + fault location, DSCP along the path, wired link, duplex (path_hops, local_link)
    assert terminal.closing(docgen.named("teams-go"), "en") == ["VERDICT: GO   PASS=21"]


def test_every_port_state_a_probe_writes_has_a_word_in_both_languages() -> None:
    """The screen names port states by catalogue key (``state.<name>``): a state without
    one would show its internal name ("no_answer") in a German run."""
    from netcheck.i18n import Catalogue
    from netcheck.probes import tcp_ports, udp_ports

    for lang in ("en", "de"):
        assert all(Catalogue(lang).has(f"state.{s}") for s in (*tcp_ports.STATES, *udp_ports.STATES)), lang
