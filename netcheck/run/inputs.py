"""The one typed run input (issue 13): everything ``run``, ``run --plan``, ``agent`` and
``inventory`` take from the user, in one object, and the one place that checks it.

:class:`RunInput` is what the user typed, as data: JSON-serialisable (the agent hands it to
its child process on stdin) and free of secrets (keys and SNMP credentials are named by file
or come from the environment, never carried in argv or in the object). :func:`resolve`
turns it into a :class:`Request` for :mod:`netcheck.run.assess`: the profile loaded with its target
overrides, the keys read, the SNMP targets built, the package mix parsed against the profile.
Every mistake is an :class:`InputError` with one line that names the option, raised before a
packet is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from netcheck.result import Site
from netcheck.waits import DHCP_WAIT_S, LLDP_WAIT_S

if TYPE_CHECKING:
    from netcheck.probes.specs import SnmpTarget
    from netcheck.profile import Profile


class InputError(ValueError):
    """A run input that cannot be used; the message is one line naming the option."""


class SnmpInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The switch audit's inputs. Secrets only by file or environment variable
    (``NETCHECK_SNMP_COMMUNITY``, ``NETCHECK_SNMP_V3_AUTH_KEY``, ``NETCHECK_SNMP_V3_PRIV_KEY``):
    argv is visible to every user of the machine in ``ps``."""

    switches: tuple[str, ...] = ()
    community_file: str | None = None
    v3_user: str | None = None
    v3_auth_file: str | None = None
    v3_priv_file: str | None = None
    v3_auth_proto: str = "SHA"
    v3_priv_proto: str = "AES"
    v3_context: str = ""


class RunInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What one assessment measures and for whom; see the ``run`` command's options."""

    profile: str
    targets: dict[str, str] = {}
    customer: str | None = None
    site: str | None = None
    technician: str | None = None
    extensions: int | None = None
    quick: bool = False
    responder: str | None = None
    responder_key_file: str | None = None
    interface: str | None = None
    lldp_wait_s: float = LLDP_WAIT_S
    dhcp_wait_s: float = DHCP_WAIT_S
    voice_vlan: int | None = None
    capacity: bool = True
    iperf3: str | None = None
    package_mix: str | None = None
    concurrency: float | None = None
    low_cpu: bool = False  # calls on the stream engine's low-CPU send schedule (small boxes)
    snmp: SnmpInput = SnmpInput()


@dataclass(frozen=True)
class Request:
    """A checked run input (:func:`resolve`): the user's
    :class:`RunInput` with what it names loaded — the profile (target
    overrides applied), the responder key, the SNMP targets with their credentials, the
    package mix. Never serialised: it holds secrets."""

    profile: Profile
    input: RunInput = field(default_factory=lambda: RunInput(profile="-"))
    site: Site = field(default_factory=Site)
    responder_key: bytes | None = field(default=None, repr=False)
    switches: tuple[SnmpTarget, ...] = field(default=(), repr=False)  # SNMP audit targets
    package_mix: dict[str, int] = field(default_factory=dict)  # users per profile package

    @property
    def responder(self) -> str | None:
        return self.input.responder


def to_json(inp: RunInput) -> bytes:
    return msgspec.json.encode(inp)


def from_json(data: bytes) -> RunInput:
    try:
        return msgspec.json.decode(data, type=RunInput)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"run input: {exc}") from None


def parse_targets(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``NAME=HOST`` items (``--target``) -> {name: host}."""
    out = {}
    for item in items:
        name, sep, host = item.partition("=")
        if not sep or not name.strip() or not host.strip():
            raise InputError(f"--target {item!r}: expected NAME=HOST")
        out[name.strip()] = host.strip()
    return out


def load_profile(inp: RunInput) -> Profile:
    """The profile with ``--target`` overrides applied (a YAML path or a shipped name)."""
    from netcheck import profile as prof
    from netcheck.plan import core as plan

    try:
        return plan.with_targets(prof.load(inp.profile), inp.targets)
    except prof.ProfileError as exc:
        raise InputError(str(exc)) from None
    except plan.PlanError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{inp.profile}: {exc.strerror or exc}") from None


def require_targets(profile: Profile) -> None:
    """A required check's target without a host is an input error naming ``--target``."""
    from netcheck.plan import core as plan

    missing = plan.missing_required_targets(profile)
    if missing:
        raise InputError(f"profile {profile.id!r} needs a host for its target(s) {', '.join(missing)}: "
                         + " ".join(f"--target {n}=HOST" for n in missing))


def resolve(inp: RunInput, profile: Profile | None = None) -> Request:
    """The checked, loaded form of ``inp`` that :mod:`netcheck.run.assess` runs.
    ``profile``: an already loaded (e.g. reduced) profile instead of ``inp.profile``."""
    from netcheck import hostport
    from netcheck.probes.specs import IPERF3_PORT, STAMP_PORT
    profile = profile if profile is not None else load_profile(inp)
    require_targets(profile)
    try:
        if inp.responder:
            hostport.parse(inp.responder, STAMP_PORT)
        if inp.iperf3:
            hostport.parse(inp.iperf3, IPERF3_PORT, option="--iperf3")
    except hostport.HostPortError as exc:
        raise InputError(str(exc)) from None
    site = Site(customer=inp.customer, site=inp.site, technician=inp.technician, extensions=inp.extensions)
    return Request(profile=profile, input=inp, site=site, responder_key=responder_key(inp.responder_key_file),
                   switches=snmp_targets(inp.snmp), package_mix=package_mix(profile, inp.package_mix))


def responder_key(path: str | None) -> bytes | None:
    if path is None:
        return None
    from netcheck.responder.server import KeyFileError, load_key

    try:
        return load_key(path)
    except KeyFileError as exc:
        raise InputError(str(exc)) from None


def package_mix(profile: Profile, text: str | None) -> dict[str, int]:
    """``--package-mix NAME=N,...`` checked against the profile's packages."""
    from netcheck.analysis import bandwidth

    try:
        mix = bandwidth.parse_package_mix(text or "")
    except bandwidth.BandwidthError as exc:
        raise InputError(str(exc)) from None
    known = profile.bandwidth.packages_kbps if profile.bandwidth else {}
    unknown = sorted(set(mix) - set(known))
    if unknown:
        raise InputError(f"--package-mix: profile {profile.id!r} has no package "
                         f"{', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})")
    return mix


def secret(path: str | None, env: str, what: str) -> str:
    """A secret from its file, else from the environment variable ``env``."""
    if path is not None:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from None
        if not value:
            raise InputError(f"{path}: empty {what} file")
        return value
    return os.environ.get(env, "").strip()


def snmp_targets(snmp: SnmpInput) -> tuple[SnmpTarget, ...]:
    """``--switch`` items -> SnmpTarget specs (SNMPv3 authPriv when a v3 user is given)."""
    if not snmp.switches:
        return ()
    from netcheck import hostport
    from netcheck.probes.specs import SNMP_PORT, SnmpTarget, SnmpVersion

    creds: dict[str, Any]
    if snmp.v3_user:
        auth = secret(snmp.v3_auth_file, "NETCHECK_SNMP_V3_AUTH_KEY", "auth key")
        priv = secret(snmp.v3_priv_file, "NETCHECK_SNMP_V3_PRIV_KEY", "privacy key")
        if len(auth) < 8 or len(priv) < 8:
            raise InputError("SNMPv3 authPriv needs an auth and a privacy key of at least 8 characters "
                             "(--snmp-v3-auth-file/--snmp-v3-priv-file or the environment variables)")
        creds = dict(version=SnmpVersion.V3, v3_user=snmp.v3_user, v3_auth_key=auth, v3_priv_key=priv,
                     v3_auth_proto=snmp.v3_auth_proto, v3_priv_proto=snmp.v3_priv_proto,
                     v3_context=snmp.v3_context)
    else:
        community = secret(snmp.community_file, "NETCHECK_SNMP_COMMUNITY", "community")
        if not community:
            raise InputError("--switch needs SNMP credentials: --snmp-community-file FILE or "
                             "$NETCHECK_SNMP_COMMUNITY (SNMPv2c), or --snmp-v3-user with key files")
        creds = dict(version=SnmpVersion.V2C, community=community)
    out = []
    for item in snmp.switches:
        try:
            host, port = hostport.parse(item, SNMP_PORT, option="--switch")
        except hostport.HostPortError as exc:
            raise InputError(str(exc)) from None
        out.append(SnmpTarget(host, port, **creds))
    return tuple(out)
