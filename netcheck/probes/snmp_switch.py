"""SNMP switch audit: walk the port, VLAN, PoE, LLDP and MAC tables of one switch.

I/O only: the walks are GETBULK loops (pysnmp 7 asyncio hlapi), one per column of
:data:`netcheck.lan_model.COLUMNS`, a few in flight at once; decoding lives in
:mod:`netcheck.lan_model`. A column the agent lacks ends its walk after one request and
simply stays absent (the audit reports the field as not exposed).

Credentials live only in :class:`SnmpTarget` (the Spec). They never reach a Measurement,
a log line or an error text: pysnmp's messages are mapped to our own wording here, and
every text that leaves is scrubbed of the secrets as a second guard.

Note (ARCHITECTURE.md, timing-critical streams): the runner runs probes concurrently on
one event loop; the walks are many small awaits and do not block it, but a 48-port audit
keeps the loop busy for ~1 s of decoding and pysnmp work. Sequence it before RTP/STAMP
streams when those land.
"""

from __future__ import annotations

import asyncio
import enum
import warnings
from dataclasses import dataclass, field
from typing import Any

from netcheck import lan_model
from netcheck.probes._common import Context, Timer, error
from netcheck.result import ErrorKind, Measurement, ProbeError

SYSTEM_OIDS = {"sysDescr": "1.3.6.1.2.1.1.1.0", "sysObjectID": "1.3.6.1.2.1.1.2.0", "sysName": "1.3.6.1.2.1.1.5.0"}
MAX_REPETITIONS = 60
CONCURRENT_WALKS = 8
MAX_ROWS_PER_COLUMN = 20_000  # a bound for broken agents that never end a walk


class Version(enum.StrEnum):
    V2C = "2c"
    V3 = "3"


@dataclass(frozen=True, repr=False)
class SnmpTarget:
    """Where and how to ask. ``repr`` hides the secrets (it may end up in a traceback)."""

    host: str
    port: int = 161
    version: Version = Version.V2C
    community: str = ""
    v3_user: str = ""
    v3_auth_key: str = ""
    v3_priv_key: str = ""
    v3_auth_proto: str = "SHA"
    v3_priv_proto: str = "AES"
    v3_context: str = ""

    @property
    def label(self) -> str:
        return self.host if self.port == 161 else f"{self.host}:{self.port}"

    def secrets(self) -> list[str]:
        return [s for s in (self.community, self.v3_auth_key, self.v3_priv_key) if s]

    def __repr__(self) -> str:
        return f"SnmpTarget({self.label}, v{self.version.value})"


@dataclass(frozen=True)
class Spec:
    id: str
    target: SnmpTarget
    timeout_s: float = 1.0  # per request
    retries: int = 1
    columns: tuple[str, ...] = field(default_factory=lambda: tuple(lan_model.COLUMNS))


class AuditError(Exception):
    """A walk failed for the whole agent (no answer, authentication); ``kind`` says why."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


async def run(spec: Spec, ctx: Context) -> Measurement:
    """Open the session, read the system group, walk the columns, decode."""
    timer = Timer()
    target = spec.target
    method = f"snmpv{target.version.value}-getbulk"
    try:
        session = await Session.open(target, spec.timeout_s, spec.retries)
    except AuditError as exc:
        return _failed(timer, spec, method, exc)
    try:
        system = await session.get(SYSTEM_OIDS)
        ctx.progress(f"{target.label}: walking {len(spec.columns)} tables")
        tables = await session.walk_all({c: lan_model.COLUMNS[c] for c in spec.columns}, ctx)
    except AuditError as exc:
        return _failed(timer, spec, method, exc)
    except TimeoutError:
        return _failed(timer, spec, method, AuditError(ErrorKind.TIMEOUT, "audit deadline reached"))
    finally:
        session.close()
    values = lan_model.decode(system, tables, target.label)
    values["requests"] = session.requests
    return timer.measurement(
        id=spec.id, probe="snmp_switch", target=target.label, method=method, values=_scrub(values, target.secrets())
    )


def _failed(timer: Timer, spec: Spec, method: str, exc: AuditError) -> Measurement:
    detail = str(_scrub(exc.detail, spec.target.secrets()))
    err: ProbeError = error(exc.kind, detail)
    return timer.measurement(id=spec.id, probe="snmp_switch", target=spec.target.label, method=method, error=err)


def _scrub(value: Any, secrets: list[str]) -> Any:
    """Replace any secret that slipped into text (e.g. an agent echoing the community)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


# --------------------------------------------------------------------------- session


class Session:
    """One SNMP engine + transport for one agent; counts requests for the benchmark."""

    def __init__(self, engine: Any, auth: Any, transport: Any, context: Any, label: str) -> None:
        self.engine, self.auth, self.transport, self.context = engine, auth, transport, context
        self.label, self.requests, self.answered = label, 0, 0

    @classmethod
    async def open(cls, target: SnmpTarget, timeout_s: float, retries: int) -> Session:
        hl = _hlapi()

        engine = hl.SnmpEngine()
        _prepare_engine(engine)
        try:
            transport = await hl.UdpTransportTarget.create(
                (target.host, target.port), timeout=timeout_s, retries=retries
            )
        except Exception as exc:  # pysnmp raises its own error for unresolvable names
            engine.close_dispatcher()
            raise AuditError(ErrorKind.DNS, f"cannot resolve {target.host!r}: {type(exc).__name__}") from None
        context = hl.ContextData(contextName=target.v3_context.encode()) if target.v3_context else hl.ContextData()
        return cls(engine, _auth(hl, target), transport, context, target.label)

    def close(self) -> None:
        self.engine.close_dispatcher()

    async def get(self, oids: dict[str, str]) -> dict[str, Any]:
        hl = _hlapi()

        names = list(oids)
        self.requests += 1
        ind, status, _i, binds = await hl.get_cmd(
            self.engine,
            self.auth,
            self.transport,
            self.context,
            *(hl.ObjectType(hl.ObjectIdentity(oids[n])) for n in names),
            lookupMib=False,
        )
        _raise_for(ind, status, self.label, self.answered)
        self.answered += 1
        return {n: to_python(v) for n, (_oid, v) in zip(names, binds, strict=False)}

    async def walk_all(self, columns: dict[str, str], ctx: Context) -> lan_model.Tables:
        gate = asyncio.Semaphore(CONCURRENT_WALKS)

        async def one(name: str, oid: str) -> tuple[str, lan_model.Rows]:
            async with gate:
                return name, await self.walk(oid)

        pairs = await asyncio.wait_for(
            asyncio.gather(*(one(n, o) for n, o in columns.items())), timeout=max(ctx.remaining(), 0.01)
        )
        return {name: rows for name, rows in pairs if rows}

    async def walk(self, oid: str) -> lan_model.Rows:
        """GETBULK from ``oid`` until a varbind leaves its subtree (RFC 3416 §4.2.3)."""
        hl = _hlapi()

        base = tuple(int(x) for x in oid.split("."))
        rows: lan_model.Rows = {}
        current = base
        while len(rows) < MAX_ROWS_PER_COLUMN:
            self.requests += 1
            ind, status, _i, binds = await hl.bulk_cmd(
                self.engine,
                self.auth,
                self.transport,
                self.context,
                0,
                MAX_REPETITIONS,
                hl.ObjectType(hl.ObjectIdentity(current)),
                lookupMib=False,
            )
            if status and _status_name(status) == "noSuchName":  # v1-style agent: end of view
                return rows
            _raise_for(ind, status, self.label, self.answered)
            self.answered += 1
            current, done = _collect(base, current, binds, rows)
            if done:
                return rows
        return rows


def _hlapi() -> Any:
    """pysnmp's asyncio hlapi, imported on first use. pysnmp 7.1 calls deprecated pysmi
    functions when pysmi is installed (snmpsim needs it): at import, and when an engine
    first resolves a varbind and attaches the MIB compiler. Those warnings are theirs, so
    they are silenced around exactly those two steps (see :func:`_prepare_engine`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pysnmp.hlapi.v3arch import asyncio as hl
    return hl


def _prepare_engine(engine: Any) -> None:
    """Attach the MIB compiler now (synchronously, warnings silenced) instead of inside the
    first request, where pysnmp would do it with the deprecated pysmi calls."""
    from pysnmp.hlapi.varbinds import MibViewControllerManager
    from pysnmp.smi import compiler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        view = MibViewControllerManager.get_mib_view_controller(engine.cache)
        compiler.add_mib_compiler(view.mibBuilder, ifAvailable=True, ifNotAdded=True)


def _collect(
    base: tuple[int, ...], current: tuple[int, ...], binds: Any, rows: lan_model.Rows
) -> tuple[tuple[int, ...], bool]:
    """Take the varbinds inside ``base``; the walk ends when one leaves the subtree, at the
    end of the MIB view, or when an OID repeats. OIDs that do not increase are accepted
    (net-snmp's ``-Cc``): some agents, and snmpsim serving recordings sorted as text
    (``...2.5001`` before ``...2.99``), return them; a repeat is what would loop."""
    for name, value in binds:
        oid = tuple(name)
        index = oid[len(base) :]
        if oid[: len(base)] != base or _is_end(value) or index in rows or oid == current:
            return current, True
        rows[index] = to_python(value)
        current = oid
    return current, not binds


def _is_end(value: Any) -> bool:
    return type(value).__name__ in ("EndOfMibView", "NoSuchObject", "NoSuchInstance")


def to_python(value: Any) -> Any:
    """pysnmp value -> int / bytes / dotted str (what lan_model decodes)."""
    kind = type(value).__name__
    if _is_end(value) or kind == "Null":
        return None
    if kind == "ObjectIdentifier":
        return ".".join(str(x) for x in value)
    if hasattr(value, "asOctets"):
        return bytes(value.asOctets())
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_name(status: Any) -> str:
    pretty = getattr(status, "prettyPrint", None)
    return str(pretty() if pretty else status)


#: pysnmp error-indication class names -> (kind, what to tell the user). Never the
#: library's own text: it may carry the security name.
_INDICATIONS = {
    "RequestTimedOut": (
        ErrorKind.TIMEOUT,
        "no SNMP answer from {agent}: agent unreachable, wrong "
        "community/credentials, or the agent's ACL does not allow this host",
    ),
    "UnknownUserName": (ErrorKind.PERMISSION, "SNMPv3: {agent} does not know this user name"),
    "WrongDigest": (ErrorKind.PERMISSION, "SNMPv3 authentication failed at {agent}: wrong auth key or auth protocol"),
    "DecryptionError": (
        ErrorKind.PERMISSION,
        "SNMPv3 decryption failed at {agent}: wrong privacy key or privacy protocol",
    ),
    "UnsupportedSecurityLevel": (
        ErrorKind.PERMISSION,
        "SNMPv3: {agent} does not support this security level (authPriv)",
    ),
    "NotInTimeWindow": (ErrorKind.PERMISSION, "SNMPv3: {agent} rejected the request as outside its time window"),
}


def _raise_for(indication: Any, status: Any, agent: str, answered: int = 0) -> None:
    """``answered``: requests this agent already answered in the session. A timeout after
    answers cannot be wrong credentials (the agent accepted them): it is an answer that
    never arrived, e.g. one too large for a datagram (a long LLDP string in a bulk reply)."""
    if indication and answered and type(indication).__name__ == "RequestTimedOut":
        raise AuditError(ErrorKind.TIMEOUT, f"SNMP agent {agent} stopped answering mid-audit after "
                         f"{answered} answers (credentials were accepted): a reply too large for "
                         "one datagram, or an overloaded agent")
    if indication:
        kind, text = _INDICATIONS.get(
            type(indication).__name__, (ErrorKind.MALFORMED, "SNMP error from {agent}: {name}")
        )
        raise AuditError(kind, text.format(agent=agent, name=type(indication).__name__))
    if status:
        raise AuditError(ErrorKind.MALFORMED, f"SNMP error status from {agent}: {_status_name(status)}")


def _auth(hl: Any, target: SnmpTarget) -> Any:
    if target.version is Version.V2C:
        return hl.CommunityData(target.community, mpModel=1)
    auth = {
        "MD5": hl.usmHMACMD5AuthProtocol,
        "SHA": hl.usmHMACSHAAuthProtocol,
        "SHA256": hl.usmHMAC192SHA256AuthProtocol,
        "SHA512": hl.usmHMAC384SHA512AuthProtocol,
    }
    priv = {"DES": hl.usmDESPrivProtocol, "AES": hl.usmAesCfb128Protocol, "AES256": hl.usmAesCfb256Protocol}
    return hl.UsmUserData(
        target.v3_user,
        authKey=target.v3_auth_key,
        privKey=target.v3_priv_key,
        authProtocol=auth[target.v3_auth_proto.upper()],
        privProtocol=priv[target.v3_priv_proto.upper()],
    )
