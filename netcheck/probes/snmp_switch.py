"""SNMP switch audit: walk the port, VLAN, PoE, LLDP/CDP and MAC tables of one switch.

I/O only (pysnmp 7 asyncio hlapi, numeric OIDs, no MIB compiler); decoding lives in
:mod:`netcheck.wire.lan_model`. Phases: the system group (the only request whose silence
means "unreachable or wrong credentials"); a presence probe, one GETBULK per 24 columns
of :data:`netcheck.wire.lan_model.COLUMNS`; then GETBULK walks of the columns that exist, a
few in flight at once. A request that times out is retried with a back-off; a column
that still does not answer keeps the rows read and is listed in ``values["incomplete"]``
with the reason, and the audit goes on. A column the agent lacks stays absent (the audit
reports the field as not exposed).

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
import warnings
from typing import Any

from netcheck.probes._common import Context, Timer, error
from netcheck.probes.specs import SnmpSwitchSpec as Spec
from netcheck.probes.specs import SnmpTarget
from netcheck.probes.specs import SnmpVersion as Version
from netcheck.result import ErrorKind, Measurement, ProbeError
from netcheck.wire import lan_model

SYSTEM_OIDS = {"sysDescr": "1.3.6.1.2.1.1.1.0", "sysObjectID": "1.3.6.1.2.1.1.2.0", "sysName": "1.3.6.1.2.1.1.5.0"}
MAX_REPETITIONS = 60
CONCURRENT_WALKS = 8
MAX_ROWS_PER_COLUMN = 20_000  # a bound for broken agents that never end a walk
COLUMN_RETRIES = 2  # extra tries of a timed-out GETBULK inside one column
BACKOFF_S = 0.2
PROBE_CHUNK = 24  # columns per presence probe; halved for an agent that answers tooBig


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
        system = await session.system()
        ctx.progress(f"{target.label}: walking {len(spec.columns)} tables")
        tables, incomplete = await session.walk_all({c: lan_model.COLUMNS[c] for c in spec.columns}, ctx)
    except AuditError as exc:
        return _failed(timer, spec, method, exc)
    finally:
        session.close()
    values = lan_model.decode(system, tables, target.label, incomplete)
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

        engine = shared_engine()
        _USERS[0] += 1
        try:
            transport = await hl.UdpTransportTarget.create(
                (target.host, target.port), timeout=timeout_s, retries=retries
            )
        except Exception as exc:  # pysnmp raises its own error for unresolvable names
            _release(engine)
            raise AuditError(ErrorKind.DNS, f"cannot resolve {target.host!r}: {type(exc).__name__}") from None
        context = hl.ContextData(contextName=target.v3_context.encode()) if target.v3_context else hl.ContextData()
        return cls(engine, _auth(hl, target), transport, context, target.label)

    def close(self) -> None:
        _release(self.engine)

    async def system(self) -> dict[str, Any]:
        """The first request: sysDescr, sysObjectID, sysName. Only here does silence mean
        "unreachable or wrong credentials"; an agent that answers with an error status
        (a view without the system group, an SNMPv1-style noSuchName) is reachable, so
        the audit goes on without those names."""
        try:
            return await self.get(SYSTEM_OIDS)
        except AuditError as exc:
            if exc.kind is not ErrorKind.MALFORMED or not exc.detail.startswith("SNMP error status"):
                raise
            return {}

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

    async def walk_all(self, columns: dict[str, str], ctx: Context) -> tuple[lan_model.Tables, dict[str, str]]:
        """Find which columns the agent has (:meth:`probe`), then walk those, a few at
        once. A column that stops answering (after its own retries) or is cut by the
        deadline keeps the rows read so far and is listed in the second value with the
        reason; the audit goes on with the others."""
        gate = asyncio.Semaphore(CONCURRENT_WALKS)
        tables: lan_model.Tables = {name: {} for name in columns}
        incomplete: dict[str, str] = {}
        first = await self.probe(columns, ctx)

        async def one(name: str, oid: str) -> None:
            async with gate:
                reason = await self.walk(oid, tables[name], ctx, first.get(name))
            if reason:
                incomplete[name] = reason

        todo = {n: o for n, o in columns.items() if first.get(n, ()) is not None}
        tasks = {name: asyncio.ensure_future(one(name, oid)) for name, oid in todo.items()}
        if tasks:
            _done, pending = await asyncio.wait(tasks.values(), timeout=max(ctx.remaining(), 0.01))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for name, task in tasks.items():
                if task in pending:
                    incomplete.setdefault(name, f"audit deadline reached after {len(tables[name])} rows")
                elif task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        return {name: rows for name, rows in tables.items() if rows}, incomplete

    async def probe(
        self, columns: dict[str, str], ctx: Context
    ) -> dict[str, tuple[tuple[int, ...], Any] | None]:
        """One GETBULK with max-repetitions 1 and one varbind per column (RFC 3416
        §4.2.3: the lexicographic successor of each) tells, for :data:`PROBE_CHUNK`
        columns at a time, whether the column exists and gives its first row: ``None``
        = absent (the successor lies outside it), ``(oid, value)`` = first row. A chunk
        answered tooBig is asked again in halves; columns of a chunk that failed
        (timeout after retries, an error status) are left out of the answer and walked
        the ordinary way."""
        out: dict[str, tuple[tuple[int, ...], Any] | None] = {}
        names = list(columns)
        chunks = [names[i : i + PROBE_CHUNK] for i in range(0, len(names), PROBE_CHUNK)]
        results = await asyncio.gather(*(self._probe_chunk([(n, columns[n]) for n in c], ctx) for c in chunks))
        for found in results:
            out.update(found)
        return out

    async def _probe_chunk(
        self, chunk: list[tuple[str, str]], ctx: Context
    ) -> dict[str, tuple[tuple[int, ...], Any] | None]:
        bases = [tuple(int(x) for x in oid.split(".")) for _n, oid in chunk]
        for attempt in range(COLUMN_RETRIES + 1):
            try:
                binds = await self._bulk(*bases, repetitions=1)
            except AuditError as exc:
                if exc.kind is ErrorKind.PERMISSION:
                    raise
                if "tooBig" in exc.detail and len(chunk) > 1:  # a small agent: half the varbinds
                    half = len(chunk) // 2
                    first, second = await asyncio.gather(
                        self._probe_chunk(chunk[:half], ctx), self._probe_chunk(chunk[half:], ctx)
                    )
                    return {**first, **second}
                if exc.kind is not ErrorKind.TIMEOUT or ctx.remaining() <= 0:
                    return {}
                await asyncio.sleep(min(BACKOFF_S * 2**attempt, ctx.remaining()))
                continue
            if binds is None or len(binds) != len(bases):
                return {}
            return {name: _first_row(base, bind) for (name, _o), base, bind in zip(chunk, bases, binds, strict=True)}
        return {}

    async def walk(
        self, oid: str, rows: lan_model.Rows, ctx: Context, first: tuple[tuple[int, ...], Any] | None = None
    ) -> str | None:
        """GETBULK from ``oid`` (or from its ``first`` row, already read by the probe)
        until a varbind leaves its subtree (RFC 3416 §4.2.3), into ``rows``. A request
        that times out is sent again after a back-off (0.2, 0.4 s…, :data:`COLUMN_RETRIES`
        times, on top of pysnmp's own retries); then the walk stops and says why.
        Returns ``None`` when the column was read to its end."""
        base = tuple(int(x) for x in oid.split("."))
        current, failures, repetitions = base, 0, MAX_REPETITIONS
        if first is not None:
            current = first[0]
            rows[current[len(base) :]] = first[1]
        while len(rows) < MAX_ROWS_PER_COLUMN:
            try:
                binds = await self._bulk(current, repetitions=repetitions)
            except AuditError as exc:
                if exc.kind is ErrorKind.PERMISSION:
                    raise
                if "tooBig" in exc.detail and repetitions > 1:  # RFC 3416 §4.2.3: ask for fewer
                    repetitions //= 2
                    continue
                failures += 1
                if exc.kind is not ErrorKind.TIMEOUT or failures > COLUMN_RETRIES or ctx.remaining() <= 0:
                    return f"{_short(exc)} after {len(rows)} rows"
                await asyncio.sleep(min(BACKOFF_S * 2 ** (failures - 1), ctx.remaining()))
                continue
            if binds is None:  # v1-style end of view
                return None
            current, done = _collect(base, current, binds, rows)
            if done:
                return None
        return None

    async def _bulk(self, *start: tuple[int, ...], repetitions: int = MAX_REPETITIONS) -> Any:
        hl = _hlapi()

        self.requests += 1
        ind, status, _i, binds = await hl.bulk_cmd(
            self.engine,
            self.auth,
            self.transport,
            self.context,
            0,
            repetitions,
            *(hl.ObjectType(hl.ObjectIdentity(oid)) for oid in start),
            lookupMib=False,
        )
        if status and _status_name(status) == "noSuchName":
            return None
        _raise_for(ind, status, self.label, self.answered)
        self.answered += 1
        return binds


def _first_row(base: tuple[int, ...], bind: Any) -> tuple[tuple[int, ...], Any] | None:
    name, value = bind
    oid = tuple(name)
    if oid[: len(base)] != base or len(oid) == len(base) or _is_end(value):
        return None
    return oid, to_python(value)


def _short(exc: AuditError) -> str:
    return "no answer" if exc.kind is ErrorKind.TIMEOUT else exc.detail


def _hlapi() -> Any:
    """pysnmp's asyncio hlapi, imported on first use. pysnmp 7.1 calls deprecated pysmi
    functions when pysmi is installed (snmpsim needs it): at import, and when an engine
    first resolves a varbind and attaches the MIB compiler. Those warnings are theirs, so
    they are silenced around exactly those two steps (see :func:`_prepare_engine`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pysnmp.hlapi.v3arch import asyncio as hl
    return hl


class _NoMibCompiler:
    """Stands in for pysmi's MIB compiler. pysnmp attaches a compiler to every engine on
    its first request (it resolves each varbind through the MIB view, even numeric ones);
    building pysmi's grammar costs ~0.4 s per engine, 40 % of an audit, for nothing: the
    audit walks numeric OIDs and never loads a MIB by name. With this stand-in a module
    that is not pre-compiled is simply "missing", as without pysmi."""

    def compile(self, *names: str, **_options: Any) -> dict[str, str]:
        return dict.fromkeys(names, "missing")


def _prepare_engine(engine: Any) -> None:
    from pysnmp.hlapi.varbinds import MibViewControllerManager

    view = MibViewControllerManager.get_mib_view_controller(engine.cache)
    view.mibBuilder.set_mib_compiler(_NoMibCompiler(), "")


_ENGINE: list[Any] = []


_USERS = [0]  # sessions open on the shared engine


def _release(engine: Any) -> None:
    """The last session out closes the engine's socket and dispatcher and forgets the
    transport in pysnmp's configuration cache, so the next audit (maybe on another event
    loop) opens fresh ones."""
    _USERS[0] -= 1
    if _USERS[0] > 0:
        return
    from pysnmp.entity import config

    cache = engine.get_user_context("CommandGeneratorLcdConfigurator") or {}
    for domain in list(cache.get("tran", {})):
        transport = config.delete_transport(engine, domain)
        if transport is not None:
            transport.close_transport()
        del cache["tran"][domain]
    engine.close_dispatcher()


def shared_engine() -> Any:
    """One SNMP engine per process: the MIB view and security set-up are built once and
    every audit (every switch, every event loop) reuses them. Each audit closes the
    engine's transport dispatcher when done (:meth:`Session.close`), so its socket never
    outlives the event loop; pysnmp opens a new one on the next request."""
    if not _ENGINE:
        engine = _hlapi().SnmpEngine()
        _prepare_engine(engine)
        _ENGINE.append(engine)
    return _ENGINE[0]


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
