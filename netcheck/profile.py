"""Provider profiles: YAML data checked at load, with line-numbered errors.

A profile restates one provider's published network prerequisites (REQUIREMENTS.md) as
limits, targets, a port table and LAN rules, and names the document every number came from
(``sources`` + ``source:`` keys). Loading runs three passes (STYLE.md §9):

1. YAML syntax, keeping the line/column of every key (PyYAML's composer marks);
2. types and unknown keys (msgspec, ``forbid_unknown_fields``);
3. cross-field rules (signs, ranges, a limit's comparator, references between sections).

Every failure is a :class:`ProfileError` whose ``str`` is one line:
``profiles/x.yaml:42:5: limits.end_to_end.jitter_ms.max: must be > 0 (got -5)``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml

from netcheck.hostport import valid_host

#: Shipped profiles live in the repository's top-level ``profiles/`` directory, which the
#: package maps to ``netcheck.profiles`` (pyproject ``package-dir``) so installs carry them.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "profiles"
if not SHIPPED_DIR.is_dir():  # installed wheel: data mapped into the package
    SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"

Path_ = tuple[str | int, ...]


class ProfileError(Exception):
    """A profile could not be loaded; ``str(err)`` is the one-line message for the user."""

    def __init__(self, file: str, line: int | None, col: int | None, key: str, msg: str):
        self.file, self.line, self.col, self.key, self.msg = file, line, col, key, msg
        where = file if line is None else f"{file}:{line}:{col}"
        super().__init__(f"{where}: {key}: {msg}" if key else f"{where}: {msg}")


# --------------------------------------------------------------------------- schema


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Limit(_Strict, frozen=True, kw_only=True):
    """One threshold. Exactly one comparator: ``max`` (<=), ``below`` (<), ``min`` (>=),
    ``above`` (>). ``warn`` is the value from which a still-passing measurement is a WARN
    (close to the limit). The comparator is explicit because the providers' wording is:
    "must not exceed 150 ms" is ``max: 150``, "must be below 1 %" is ``below: 1``."""

    max: float | None = None
    below: float | None = None
    min: float | None = None
    above: float | None = None
    warn: float | None = None
    source: str | None = None

    @property
    def comparator(self) -> tuple[str, float]:
        for op in ("max", "below", "min", "above"):
            value = getattr(self, op)
            if value is not None:
                return op, float(value)
        raise ValueError("limit without comparator")  # prevented by validation

    def passes(self, value: float) -> bool:
        op, bound = self.comparator
        return {
            "max": value <= bound,
            "below": value < bound,
            "min": value >= bound,
            "above": value > bound,
        }[op]

    def near(self, value: float) -> bool:
        """True when a passing value is inside the warning margin."""
        if self.warn is None:
            return False
        op, _ = self.comparator
        return value > self.warn if op in ("max", "below") else value < self.warn

    def describe(self, unit: str) -> str:
        op, bound = self.comparator
        sym = {"max": "<=", "below": "<", "min": ">=", "above": ">"}[op]
        return f"{sym} {bound:g} {unit}".strip()


class PathLimits(_Strict, frozen=True, kw_only=True):
    """Quality limits for one network path (end to end, to the handover point, or LAN).

    ``required: false`` makes the group informative (e.g. Teams' customer-edge limits,
    which a client on the LAN cannot measure directly)."""

    source: str | None = None
    required: bool = True
    one_way_delay_ms: Limit | None = None
    rtt_ms: Limit | None = None
    jitter_ms: Limit | None = None
    loss_pct: Limit | None = None
    loss_window_s: float | None = None
    burst_loss_pct: Limit | None = None
    burst_window_ms: float | None = None
    reorder_pct: Limit | None = None
    mos: Limit | None = None


class Limits(_Strict, frozen=True, kw_only=True):
    end_to_end: PathLimits | None = None
    handover: PathLimits | None = None
    layer2: PathLimits | None = None


class Role(enum.StrEnum):
    HANDOVER = "handover"
    SIP = "sip"
    STUN = "stun"
    PORTAL = "portal"
    MEDIA = "media"
    LDAP = "ldap"
    UPDATE = "update"
    RESPONDER = "responder"
    GATEWAY = "gateway"
    OTHER = "other"


class Target(_Strict, frozen=True, kw_only=True):
    """A host the site must reach, by name or address, with the role it plays.

    ``host: null`` means the user supplies it at run time (``--target NAME=HOST``), as for
    the SIP trunk that "the SIP-trunk provider sets"; until then its checks are SKIPPED."""

    host: str | None = None
    role: Role
    required: bool = True
    description: str | None = None
    source: str | None = None


class Transport(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    TCP_UDP = "tcp+udp"


class PortRule(_Strict, frozen=True, kw_only=True):
    """One line of the provider's firewall table: outbound to ``destination`` on ``port``.

    ``port`` is a number or an inclusive range ``"16384-32767"``; ``destination`` is a
    target name from ``targets`` or a literal host. ``required: false`` rows only inform.
    """

    protocol: str
    transport: Transport
    port: int | str
    destination: str
    purpose: str
    required: bool = True
    tls: bool = False
    source: str | None = None

    @property
    def range(self) -> tuple[int, int]:
        return parse_port(self.port)

    @property
    def transports(self) -> tuple[str, ...]:
        return ("tcp", "udp") if self.transport is Transport.TCP_UDP else (self.transport.value,)


class Stream(_Strict, frozen=True, kw_only=True):
    """The emulated call used for end-to-end measurement (issue 4)."""

    codec: str = "G.711"
    packet_interval_ms: float = 20.0
    duration_s: float = 30.0
    quick_duration_s: float = 10.0
    jitter_buffer_ms: float = 60.0
    dscp: int = 46


class Bandwidth(_Strict, frozen=True, kw_only=True):
    """Free bandwidth the site must have, per extension in use and direction."""

    source: str | None = None
    per_extension_up_kbps: float | None = None
    per_extension_down_kbps: float | None = None
    packages_kbps: dict[str, float] = {}


class Dhcp(_Strict, frozen=True, kw_only=True):
    private_addresses: bool = True
    dns_required: bool = True
    forbidden_options: list[int] = []


class Lan(_Strict, frozen=True, kw_only=True):
    source: str | None = None
    poe: str | None = None
    port_speed_min_mbps: int | None = None
    full_duplex: bool = False
    voice_vlan_variants: list[int] = []
    dhcp: Dhcp | None = None
    no_admin_exposure: bool = False


class Sip(_Strict, frozen=True, kw_only=True):
    source: str | None = None
    alg_allowed: bool = True
    keepalive_s: float | None = None
    registration_s: float | None = None


class Qos(_Strict, frozen=True, kw_only=True):
    source: str | None = None
    voice_dscp: int | None = None
    priority_required: bool = False


class Profile(_Strict, frozen=True, kw_only=True):
    """A validated provider profile (after ``extends:`` was merged)."""

    id: str
    name: str
    description: str | None = None
    extends: str | None = None
    demo: bool = False
    sources: dict[str, str] = {}
    limits: Limits = Limits()
    targets: dict[str, Target] = {}
    ports: list[PortRule] = []
    codecs: list[str] = msgspec.field(default_factory=lambda: ["G.711"])
    stream: Stream = Stream()
    bandwidth: Bandwidth | None = None
    lan: Lan | None = None
    sip: Sip | None = None
    qos: Qos | None = None
    availability_pct: float | None = None
    path: str = ""

    def targets_with_role(self, role: Role) -> list[tuple[str, Target]]:
        return [(name, t) for name, t in self.targets.items() if t.role is role]

    def resolve_destination(self, destination: str) -> str | None:
        """A port rule's destination as a host: a target's host, else the literal."""
        target = self.targets.get(destination)
        return target.host if target else destination


def codec_names() -> tuple[str, ...]:
    """Codec names the E-model knows (G.113 Appendix I table in ``netcheck.analysis.emodel``)."""
    try:
        from netcheck.analysis.emodel import CODECS
    except ImportError:  # pragma: no cover - emodel is part of the package
        return ("G.711", "G.722", "G.729", "G.729A", "Opus")
    return tuple(CODECS)


_PORT_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_port(port: int | str) -> tuple[int, int]:
    """``443`` -> (443, 443); ``"16384-32767"`` -> (16384, 32767). Raises ValueError."""
    if isinstance(port, int):
        lo = hi = port
    else:
        m = _PORT_RE.match(port)
        if not m:
            raise ValueError(f"must be a port or a range like 16384-32767 (got {port!r})")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
        raise ValueError(f"port out of range 1-65535 (got {port})")
    if lo > hi:
        raise ValueError(f"range start above its end (got {port})")
    return lo, hi


# --------------------------------------------------------------------------- YAML with marks


@dataclass(frozen=True)
class _Doc:
    """A parsed YAML file: plain data plus the (line, col) of every key path."""

    file: str
    data: Any
    marks: dict[Path_, tuple[int, int]]


#: Input limits (issue 21): a profile is a few KB, a few levels deep. Far above any real
#: profile, far below what hurts: a YAML alias bomb ("billion laughs") expands a 1 KB file
#: to 10^9 nodes, so the expanded size is counted while building, not after.
MAX_PROFILE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 100_000

#: libyaml's parser and composer (C) when PyYAML was built with it, else the pure-Python
#: ones: same nodes, same marks, several times faster (bench/profile_load.py). Aliases
#: stay shared nodes in both (no expansion while composing); libyaml stops at 1,000
#: nesting levels itself, the pure composer at Python's recursion limit.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(file: str, text: str) -> _Doc:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ProfileError(file, line, col, "", f"YAML syntax: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(file, None, None, "", f"YAML: {exc}") from None
    except RecursionError:  # the pure-Python composer on a deeply nested document
        raise ProfileError(file, None, None, "", f"nested deeper than {MAX_DEPTH} levels") from None
    marks: dict[Path_, tuple[int, int]] = {}
    builder = _Builder(file, marks)
    data = builder.construct(node, ()) if node is not None else {}
    return _Doc(file, data, marks)


class _Builder:
    """Plain data from a node tree, recording marks, counting every node it builds (an
    alias counts each time it is expanded) so an alias bomb stops at :data:`MAX_NODES`."""

    def __init__(self, file: str, marks: dict[Path_, tuple[int, int]]) -> None:
        self.file, self.marks, self.nodes = file, marks, 0
        self.scalars = yaml.constructor.SafeConstructor()  # one for all scalars (issue 22)

    def construct(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if len(path) > MAX_DEPTH:
            raise ProfileError(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "",
                               f"nested deeper than {MAX_DEPTH} levels")
        if self.nodes > MAX_NODES:
            raise ProfileError(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "",
                               f"more than {MAX_NODES} values after expanding aliases "
                               "(an alias bomb?)")
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.construct(n, (*path, i)) for i, n in enumerate(node.value)]
        return self.scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(self.scalar(key_node))
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                raise ProfileError(self.file, *where, _dotted((*path, key)), "duplicate key")
            out[key] = self.construct(value_node, (*path, key))
            self.marks[(*path, key)] = where
        return out

    def scalar(self, node: yaml.Node) -> Any:
        """A scalar with YAML 1.1 safe typing (int, float, bool, null, str); a collection
        used as a mapping key is refused."""
        if not isinstance(node, yaml.ScalarNode):
            raise ProfileError(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "",
                               "a mapping key must be a plain value")
        return self.scalars.construct_object(node)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --------------------------------------------------------------------------- loading


def find(name_or_path: str, search: Path | None = None) -> Path:
    """A profile by shipped name (``stimme``) or by path (``./my.yaml``)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return (search or SHIPPED_DIR) / f"{name_or_path}.yaml"


def shipped() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.yaml"))


def load(name_or_path: str) -> Profile:
    """Load, merge ``extends:`` parents, type-check and cross-check one profile."""
    path = find(name_or_path)
    if not path.is_file():
        raise ProfileError(str(path), None, None, "", "no such profile (see `netcheck profiles list`)")
    data, origin = _load_merged(path, ())
    data["path"] = str(path)
    try:
        profile = msgspec.convert(data, type=Profile)
    except msgspec.ValidationError as exc:
        raise _type_error(str(path), exc, origin) from None
    errors = list(_cross_check(profile))
    if errors:
        key, msg = errors[0]
        file, line, col = origin.get(_undotted(key), (str(path), None, None))
        raise ProfileError(file, line, col, key, msg)
    return profile


Origin = dict[Path_, tuple[str, int | None, int | None]]


def _load_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], Origin]:
    doc = _compose(str(path), _read(path))
    if not isinstance(doc.data, dict):
        raise ProfileError(doc.file, 1, 1, "", "a profile must be a YAML mapping")
    origin: Origin = {p: (doc.file, line, col) for p, (line, col) in doc.marks.items()}
    parent_name = doc.data.get("extends")
    if parent_name is None:
        return doc.data, origin
    line, col = doc.marks.get(("extends",), (None, None))
    if not isinstance(parent_name, str):
        raise ProfileError(doc.file, line, col, "extends", "must be a profile name")
    parent_path = find(parent_name, search=path.parent)
    if not parent_path.is_file() and Path(parent_name).suffix not in (".yaml", ".yml"):
        parent_path = find(parent_name)  # a shipped profile (ARCHITECTURE.md: shipped names too)
    if parent_path.resolve() in {p.resolve() for p in (*chain, path)}:
        raise ProfileError(doc.file, line, col, "extends", f"circular extends via {parent_name!r}")
    if not parent_path.is_file():
        raise ProfileError(doc.file, line, col, "extends", f"parent profile {parent_name!r} not found")
    parent, parent_origin = _load_merged(parent_path, (*chain, path))
    return _merge(parent, doc.data), {**parent_origin, **origin}


def _read(path: Path) -> str:
    """The file as text: size-capped, UTF-8 (the error names the first bad byte)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(str(path), None, None, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(str(path), None, None, "", f"larger than {MAX_PROFILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProfileError(str(path), line, col, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; the child's lists and scalars replace the parent's."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_MSGSPEC_PATH = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]+)`")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")


def _type_error(file: str, exc: msgspec.ValidationError, origin: Origin) -> ProfileError:
    text = str(exc)
    m = _MSGSPEC_PATH.search(text)
    path = _undotted(m.group(1).lstrip(".")) if m else ()
    msg = _MSGSPEC_PATH.sub("", text)
    unknown, missing = _UNKNOWN.match(msg), _MISSING.match(msg)
    if unknown:
        path, msg = (*path, unknown.group(1)), "unknown key"
    elif missing:
        path, msg = (*path, missing.group(1)), "required key missing"
    else:
        msg = msg.replace("Expected", "expected").replace("Invalid", "invalid").replace("`", "")
    where = origin.get(path) or origin.get(path[:-1], (file, None, None))
    return ProfileError(where[0], where[1], where[2], _dotted(path), msg)


def _undotted(key: str) -> Path_:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


# --------------------------------------------------------------------------- cross-field rules

Problem = tuple[str, str]


def _cross_check(p: Profile) -> Iterator[Problem]:
    yield from _check_finite(p)
    yield from _check_sources(p)
    for group in ("end_to_end", "handover", "layer2"):
        limits = getattr(p.limits, group)
        if limits is not None:
            yield from _check_path_limits(f"limits.{group}", limits)
    yield from _check_consistency(p)
    yield from _check_targets(p)
    yield from _check_ports(p)
    yield from _check_stream(p)
    if p.bandwidth:
        for key in ("per_extension_up_kbps", "per_extension_down_kbps"):
            value = getattr(p.bandwidth, key)
            if value is not None and value <= 0:
                yield f"bandwidth.{key}", f"must be > 0 (got {value:g})"
        for name, kbps in p.bandwidth.packages_kbps.items():
            if kbps < 0:
                yield f"bandwidth.packages_kbps.{name}", f"must be >= 0 (got {kbps:g})"
    if p.availability_pct is not None and not 0 < p.availability_pct <= 100:
        yield "availability_pct", f"must be in (0, 100] (got {p.availability_pct:g})"
    if p.lan and p.lan.dhcp:
        for i, opt in enumerate(p.lan.dhcp.forbidden_options):
            if not 1 <= opt <= 254:
                yield f"lan.dhcp.forbidden_options[{i}]", f"DHCP option must be 1-254 (got {opt})"
    for i, variant in enumerate(p.lan.voice_vlan_variants if p.lan else []):
        if variant not in (1, 2):
            yield f"lan.voice_vlan_variants[{i}]", f"must be 1 or 2 (got {variant})"


def _check_finite(p: Profile) -> Iterator[Problem]:
    """NaN compares false with every bound (so ``max: .nan`` would pass every range rule
    and then never fail a measurement), and infinity is no limit: refuse both, anywhere."""
    for key, value in _all_numbers(p, ""):
        if not math.isfinite(value):
            yield key, f"must be a finite number (got {value})"


def _all_numbers(obj: Any, key: str) -> Iterator[tuple[str, float]]:
    if isinstance(obj, msgspec.Struct):
        for name in obj.__struct_fields__:
            yield from _all_numbers(getattr(obj, name), f"{key}.{name}" if key else name)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _all_numbers(v, f"{key}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _all_numbers(v, f"{key}[{i}]")
    elif isinstance(obj, float):
        yield key, obj


def _check_sources(p: Profile) -> Iterator[Problem]:
    for key, source in _all_sources(p):
        if source not in p.sources:
            yield key, f"unknown source {source!r} (declare it under sources:)"


def _all_sources(p: Profile) -> Iterator[tuple[str, str]]:
    def walk(obj: Any, key: str) -> Iterator[tuple[str, str]]:
        if isinstance(obj, msgspec.Struct):
            for field in obj.__struct_fields__:
                yield from walk(getattr(obj, field), f"{key}.{field}" if key else field)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                yield from walk(v, f"{key}.{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from walk(v, f"{key}[{i}]")
        elif key.endswith(".source") and isinstance(obj, str):
            yield key, obj

    yield from walk(p, "")


#: Physical bounds per metric (unit, lowest sensible limit, highest sensible limit).
_BOUNDS: Mapping[str, tuple[float, float]] = {
    "one_way_delay_ms": (0, 10_000),
    "rtt_ms": (0, 20_000),
    "jitter_ms": (0, 10_000),
    "loss_pct": (0, 100),
    "burst_loss_pct": (0, 100),
    "reorder_pct": (0, 100),
    "mos": (1, 5),
}


def _check_path_limits(prefix: str, limits: PathLimits) -> Iterator[Problem]:
    for metric, (low, high) in _BOUNDS.items():
        limit = getattr(limits, metric)
        if limit is not None:
            yield from _check_limit(f"{prefix}.{metric}", limit, low, high)
    for key in ("loss_window_s", "burst_window_ms"):
        value = getattr(limits, key)
        if value is not None and value <= 0:
            yield f"{prefix}.{key}", f"must be > 0 (got {value:g})"


def _check_limit(key: str, limit: Limit, low: float, high: float) -> Iterator[Problem]:
    ops = [op for op in ("max", "below", "min", "above") if getattr(limit, op) is not None]
    if len(ops) != 1:
        yield key, f"needs exactly one of max, below, min, above (got {', '.join(ops) or 'none'})"
        return
    op, bound = limit.comparator
    if bound < low or (op in ("max", "below") and bound <= low and low == 0):
        yield f"{key}.{op}", f"must be > {low:g} (got {bound:g})"
    elif bound > high:
        yield f"{key}.{op}", f"must be <= {high:g} (got {bound:g})"
    elif limit.warn is not None and not _warn_inside(op, bound, limit.warn):
        yield f"{key}.warn", f"must lie on the passing side of {op} {bound:g} (got {limit.warn:g})"


def _warn_inside(op: str, bound: float, warn: float) -> bool:
    return warn <= bound if op in ("max", "below") else warn >= bound


def _check_consistency(p: Profile) -> Iterator[Problem]:
    """A LAN hop cannot be allowed more than the whole path it is part of."""
    l2, e2e = p.limits.layer2, p.limits.end_to_end
    if not (l2 and e2e):
        return
    for metric in ("one_way_delay_ms", "jitter_ms", "loss_pct"):
        inner, outer = getattr(l2, metric), getattr(e2e, metric)
        if inner and outer and inner.comparator[1] > outer.comparator[1]:
            yield (
                f"limits.layer2.{metric}",
                f"inconsistent: LAN limit {inner.comparator[1]:g} exceeds end-to-end limit "
                f"{outer.comparator[1]:g}",
            )


def _check_targets(p: Profile) -> Iterator[Problem]:
    for name, target in p.targets.items():
        if target.host is not None and not valid_host(target.host):
            yield f"targets.{name}.host", f"not a host name or IP address (got {target.host!r})"


def _check_ports(p: Profile) -> Iterator[Problem]:
    for i, rule in enumerate(p.ports):
        try:
            parse_port(rule.port)
        except ValueError as exc:
            yield f"ports[{i}].port", str(exc)
        if rule.destination not in p.targets and not valid_host(rule.destination):
            yield f"ports[{i}].destination", (
                f"neither a target name nor a host (got {rule.destination!r})"
            )


#: Upper bounds of the emulated call: an hour-long call, one packet a second, a 2 s jitter
#: buffer are already far outside any telephony setting (ITU-T G.114: 400 ms one way).
_STREAM_MAX: Mapping[str, float] = {
    "packet_interval_ms": 1000.0, "duration_s": 3600.0, "quick_duration_s": 3600.0,
    "jitter_buffer_ms": 2000.0,
}


def _check_stream(p: Profile) -> Iterator[Problem]:
    CODEC_NAMES = codec_names()
    for i, codec in enumerate(p.codecs):
        if codec not in CODEC_NAMES:
            yield f"codecs[{i}]", f"unknown codec {codec!r} (known: {', '.join(CODEC_NAMES)})"
    s = p.stream
    if s.codec not in CODEC_NAMES:
        yield "stream.codec", f"unknown codec {s.codec!r} (known: {', '.join(CODEC_NAMES)})"
    for key, most in _STREAM_MAX.items():
        if getattr(s, key) <= 0:
            yield f"stream.{key}", f"must be > 0 (got {getattr(s, key):g})"
        elif getattr(s, key) > most:  # a typo, not a call: a run that never ends
            yield f"stream.{key}", f"must be <= {most:g} (got {getattr(s, key):g})"
    if not 0 <= s.dscp <= 63:
        yield "stream.dscp", f"DSCP must be 0-63 (got {s.dscp})"
    if s.quick_duration_s > s.duration_s:
        yield "stream.quick_duration_s", (
            f"inconsistent: quick run ({s.quick_duration_s:g} s) longer than full run "
            f"({s.duration_s:g} s)"
        )
    window = p.limits.end_to_end.loss_window_s if p.limits.end_to_end else None
    if window and window > s.duration_s:
        yield "limits.end_to_end.loss_window_s", (
            f"inconsistent: window {window:g} s longer than the stream ({s.duration_s:g} s)"
        )
