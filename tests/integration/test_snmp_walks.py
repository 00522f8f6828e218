"""Walks that survive a slow or lossy agent: a UDP relay in front of snmpsim drops chosen
GETBULK requests (decoded with pysnmp's own codec), so the loss is exact and seeded by
the rule, not by timing. Ground truth is the same recording decoded offline.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from netcheck.wire import lan_model
from tests import snmprec
from tests.integration._snmp import audit

_V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
FDB = tuple(int(x) for x in lan_model.COLUMNS["dot1qTpFdbPort"].split("."))
Drop = Callable[[tuple[int, ...]], bool]
Answer = Callable[[bytes], bytes | None]


def first_oid(datagram: bytes) -> tuple[int, ...]:
    msg, _rest = decoder.decode(datagram, asn1Spec=_V2C.Message())
    binds = _V2C.apiPDU.get_varbinds(_V2C.apiMessage.get_pdu(msg))
    return tuple(binds[0][0]) if binds else ()


class LossyRelay:
    """127.0.0.1:<port> -> snmpsim; requests whose first OID ``drop`` rejects are
    swallowed (counted in ``dropped``), those ``answer`` answers get its reply instead.
    One client at a time; runs at most 60 s."""

    def __init__(self, upstream: int, drop: Drop, answer: Answer = lambda _d: None) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.port, self.upstream, self.drop, self.answer = self.front.getsockname()[1], upstream, drop, answer
        self.dropped, self._client = 0, ("127.0.0.1", 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LossyRelay:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.front.close()
        self.back.close()

    def _run(self) -> None:
        end = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < end:
            ready, _w, _x = select.select([self.front, self.back], [], [], 0.05)
            for sock in ready:
                data, addr = sock.recvfrom(65535)
                if sock is self.back:
                    self.front.sendto(data, self._client)
                elif self.drop(first_oid(data)):
                    self.dropped += 1
                elif (reply := self.answer(data)) is not None:
                    self.front.sendto(reply, addr)
                else:
                    self._client = addr
                    self.back.sendto(data, ("127.0.0.1", self.upstream))


def continuation_of(base: tuple[int, ...]) -> Drop:
    """A GETBULK that continues a walk of ``base`` (starts inside it, not at it)."""
    return lambda oid: oid[: len(base)] == base and len(oid) > len(base)


def macs(values: dict[str, object]) -> int:
    """MAC addresses learned on the audited ports."""
    return sum(len(p["macs"] or []) for p in values["ports"])  # type: ignore[attr-defined,index]


def truth(name: str) -> dict[str, object]:
    system, tables = snmprec.tables(snmprec.recording(name))
    return lan_model.decode(system, tables, name)


def pass_first(n: int, rule: Drop) -> Drop:
    """Let the first ``n`` requests ``rule`` matches through, drop the later ones."""
    seen = [0]

    def drop(oid: tuple[int, ...]) -> bool:
        if rule(oid):
            seen[0] += 1
            return seen[0] > n
        return False

    return drop


def drop_first(n: int, rule: Drop) -> Drop:
    left = [n]

    def drop(oid: tuple[int, ...]) -> bool:
        if rule(oid) and left[0] > 0:
            left[0] -= 1
            return True
        return False

    return drop


def test_timed_out_getbulk_is_retried_and_the_column_completes(snmp_agent: int) -> None:
    """procurve's 1,075 dot1qTpFdbPort rows take ~18 GETBULKs; the first two continuations
    are lost and the walk goes on after its back-off."""
    with LossyRelay(snmp_agent, drop_first(2, continuation_of(FDB))) as relay:
        m = audit(relay.port, "procurve", timeout_s=1.0, retries=0)
    assert m.ok, m.error
    assert relay.dropped == 2
    assert m.values["incomplete"] == {}
    assert macs(m.values) == macs(truth("procurve"))  # type: ignore[arg-type]


def test_a_column_that_stops_answering_keeps_its_rows(snmp_agent: int) -> None:
    """ifType (78 rows) and dot1qTpFdbPort (1,075 rows) stop answering after their first
    GETBULK of the walk: the probe's first row plus the 60 rows of that answer
    (max-repetitions 60) are kept."""
    if_type = tuple(int(x) for x in lan_model.COLUMNS["ifType"].split("."))
    cut_if, cut_fdb = pass_first(1, continuation_of(if_type)), pass_first(1, continuation_of(FDB))
    with LossyRelay(snmp_agent, lambda oid: cut_if(oid) or cut_fdb(oid)) as relay:
        m = audit(relay.port, "procurve", timeout_s=1.0, retries=0)
    assert m.ok, m.error  # the agent answered: no "wrong community" error
    assert relay.dropped >= 4  # each column's request and its retries (2 each)
    assert m.values["incomplete"] == {
        "dot1qTpFdbPort": "no answer after 61 rows",
        "ifType": "no answer after 61 rows",
    }
    full = {p["if_index"] for p in truth("procurve")["ports"]}  # type: ignore[attr-defined]
    kept = {p["if_index"] for p in m.values["ports"]}  # type: ignore[union-attr]
    # the 61 ifType rows read hold every Ethernet port (ifType 6 rows come first, the
    # VLAN/LAG/loopback rows after): discarding the partial column would leave no port
    assert kept == full and len(kept) == 52
    [phone] = m.values["phones"]  # type: ignore[misc]  # LLDP did answer
    assert phone["mac"] == "00:04:f2:c6:70:78"  # lldpRemPortId of the Polycom on port 44


def test_agent_silent_after_the_first_answer_is_no_credential_error(snmp_agent: int) -> None:
    system = (1, 3, 6, 1, 2, 1, 1)
    with LossyRelay(snmp_agent, lambda oid: oid[: len(system)] != system) as relay:
        t0 = time.monotonic()
        m = audit(relay.port, "procurve", timeout_s=0.3, retries=0, deadline_s=3.0)
        elapsed = time.monotonic() - t0
    assert m.ok, m.error
    assert m.values["switch"]["descr"] == "HP Stack, revision KA.00.00.0000"  # type: ignore[index]  # sysDescr.0
    incomplete = m.values["incomplete"]
    assert set(incomplete) == set(lan_model.COLUMNS)  # type: ignore[arg-type]
    assert m.values["exposed"]["ports"] is False  # type: ignore[index]
    assert elapsed < 6.0



def too_big_above(repetitions: int, base: tuple[int, ...]) -> Answer:
    """An agent with a small message size: a GETBULK into ``base`` asking for more than
    ``repetitions`` rows gets error-status tooBig(1) (RFC 3416 §4.2.3)."""

    def answer(datagram: bytes) -> bytes | None:
        msg, _rest = decoder.decode(datagram, asn1Spec=_V2C.Message())
        pdu = _V2C.apiMessage.get_pdu(msg)
        binds = _V2C.apiPDU.get_varbinds(pdu)
        is_bulk = type(pdu).__name__ == "GetBulkRequestPDU"
        if not (is_bulk and binds and tuple(binds[0][0])[: len(base)] == base):
            return None
        if int(_V2C.apiBulkPDU.get_max_repetitions(pdu)) <= repetitions:
            return None
        reply = _V2C.apiMessage.get_response(msg)
        _V2C.apiPDU.set_error_status(_V2C.apiMessage.get_pdu(reply), 1)
        return bytes(encoder.encode(reply))

    return answer


def test_too_big_answers_get_fewer_repetitions(snmp_agent: int) -> None:
    """procurve's 1,075 FDB rows through an agent that refuses GETBULKs of more than 10
    rows there: the walk halves max-repetitions (60, 30, 15, 7) and reads them all."""
    with LossyRelay(snmp_agent, lambda _oid: False, too_big_above(10, FDB)) as relay:
        m = audit(relay.port, "procurve", timeout_s=1.0, retries=0)
    assert m.ok, m.error
    assert m.values["incomplete"] == {}
    assert macs(m.values) == macs(truth("procurve"))  # type: ignore[arg-type]


def too_big_probe_above(varbinds: int) -> Answer:
    """An agent that refuses any request carrying more than ``varbinds`` varbinds."""

    def answer(datagram: bytes) -> bytes | None:
        msg, _rest = decoder.decode(datagram, asn1Spec=_V2C.Message())
        if len(_V2C.apiPDU.get_varbinds(_V2C.apiMessage.get_pdu(msg))) <= varbinds:
            return None
        reply = _V2C.apiMessage.get_response(msg)
        _V2C.apiPDU.set_error_status(_V2C.apiMessage.get_pdu(reply), 1)
        return bytes(encoder.encode(reply))

    return answer


def test_presence_probe_splits_on_too_big(snmp_agent: int) -> None:
    """Probes of 24 varbinds are refused (tooBig); halves of 12, then 6 are asked."""
    with LossyRelay(snmp_agent, lambda _oid: False, too_big_probe_above(6)) as relay:
        m = audit(relay.port, "procurve", timeout_s=1.0, retries=0)
    assert m.ok, m.error
    assert m.values["incomplete"] == {}
    full = truth("procurve")
    assert len(m.values["ports"]) == len(full["ports"]) and macs(m.values) == macs(full)  # type: ignore[arg-type]
    # 57 requests without the limit; without splitting, every column is walked (124 seen)
    assert m.values["requests"] < 100
