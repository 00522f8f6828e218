"""What each probe takes: its ``Spec`` (a frozen dataclass) and the constants the plan
builds it from, declared here and nowhere else.

The plan builds these and ``run --plan`` prints them without measuring anything, so this
module is plain data: it imports no engine, socket layer or event loop. Each probe module
names its own (``stream.Spec`` is :class:`StreamSpec`) and holds ``run(spec, ctx)``; the
registry (:mod:`netcheck.probes`) pairs each probe with its Spec here, and the plan reaches
the Specs without loading a probe's code (``netcheck run --plan``, issue 22).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from netcheck import hostport
from netcheck.analysis import bandwidth
from netcheck.waits import DHCP_WAIT_S, LLDP_WAIT_S
from netcheck.wire.control import DEFAULT_EXPOSURE_PORTS
from netcheck.wire.stamp import STAMP_PORT as STAMP_PORT  # the plan's constants are read here
from netcheck.wire.stamp import stamp_packet_size

STUN_PORT = 3478  # RFC 8489 section 18.6
SIP_PORT = 5060
#: SIP OPTIONS go out at most 5 per second: an SBC's flood protection (e.g. Kamailio's
#: pike module) must not take the measurement for an attack.
SIP_INTERVAL_MS = 200.0
IPERF3_PORT = 5201  # iperf3's default server port
SNMP_PORT = 161  # RFC 3417 section 3 (SNMP over UDP)
UDP_SWEEP_RATE_PPS = 3000.0  # udp_ports: send rate of the sweep (lowered to the responder's per-source limit)
TRACEROUTE_PORT = 33434  # the classic traceroute base port (a control without STUN)
DEFAULT_MAX_CALLS = 400
"""Cap of the ramp without a requirement: the call generator's per-call-socket ceiling on
a shared 2-vCPU VM was 300 calls in every run and 500 in some (bench/RESULTS.md, "Stream
capacity"), with the responder on the same CPUs; in use the responder is remote."""
DISCARD_PORT = 9  # RFC 863


# ------------------------------------------------------------------------------------ dns

@dataclass(frozen=True)
class DnsSpec:
    id: str
    host: str
    timeout_s: float = 5.0


# ------------------------------------------------------------------------------------ tcp_ports

@dataclass(frozen=True)
class TcpPortsSpec:
    """Connect to ``host`` on each of ``ports``; ``remap`` sends a profile port to another
    real port (the demo's local peers listen on free ports)."""

    id: str
    host: str
    ports: tuple[int, ...]
    timeout_s: float = 3.0
    concurrency: int = 64
    remap: dict[int, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ stream

@dataclass(frozen=True)
class Attempt:
    """A fall-back measurement of the same path: ``method`` ("stun" / "icmp") to
    ``host:port`` (``port`` is ignored for ICMP)."""

    method: str
    host: str
    port: int = STUN_PORT


@dataclass(frozen=True)
class StreamSpec:
    """One emulated call towards ``host``.

    ``method`` "stamp" needs a responder at ``host:port`` (``key`` = authenticated mode);
    "icmp" is the fallback. ``window_s`` is the loss window (VSE NET: 10 s),
    ``burst_window_ms`` the burst-loss window (Teams: 200 ms). ``assume_synchronized``
    declares the two clocks synchronised (e.g. namespaces of one host) so one-way delay is
    reported as measured; it is otherwise decided from the host's clock state and the
    reflector's Error Estimate S bit.
    """

    id: str
    host: str
    port: int = STAMP_PORT
    codec: str = "G.711"
    duration_s: float = 30.0
    interval_ms: float = 20.0
    dscp: int = 46
    key: bytes | None = field(default=None, repr=False)
    jitter_buffer_ms: float = 60.0
    window_s: float = 10.0
    burst_window_ms: float | None = None
    method: str = "stamp"
    assume_synchronized: bool = False
    fallback: tuple[Attempt, ...] = ()
    silent_stop_s: float | None = 2.0
    low_cpu: bool = False  # the engine's sleep-only schedule (small boxes); send error stated

    @property
    def send_interval_ms(self) -> float:
        """The schedule: the codec's packet interval, slower for a SIP OPTIONS series."""
        return max(self.interval_ms, SIP_INTERVAL_MS) if self.method == "sip" else self.interval_ms

    @property
    def count(self) -> int:
        return max(1, round(self.duration_s * 1000.0 / self.send_interval_ms))

    def payload_bytes(self) -> int:
        """Codec payload of one packet (G.711 20 ms: 160 octets)."""
        return bandwidth.codec_payload_bytes(self.codec, self.interval_ms)


# ------------------------------------------------------------------------------------ path_hops

@dataclass(frozen=True)
class PathHopsSpec:
    """Trace ``host`` with ``rounds`` probes per TTL, one per TTL every ``interval_s``.

    ``gateway``: this computer's default gateway (the end of the LAN segment; default:
    the routing table). ``provider_networks``: prefixes of the provider's network (where
    the provider segment starts); without them the provider segment is the last link
    into the target. ``mode``: "auto" (raw when allowed, else recverr), "raw", "recverr".
    """

    id: str
    host: str
    max_hops: int = 16
    rounds: int = 10
    interval_s: float = 1.0
    wait_s: float = 2.0
    dscp: int = 46
    base_port: int = TRACEROUTE_PORT
    size: int = 64
    gateway: str | None = None
    provider_networks: tuple[str, ...] = ()
    mode: str = "auto"
    protocol: str = "auto"
    pmtu: bool = True


# ------------------------------------------------------------------------------------ iperf3

@dataclass(frozen=True)
class Iperf3Spec:
    """iperf3 client run towards ``host:port``; ``udp_kbps`` = UDP at that offered rate
    (None: TCP); ``reverse`` = server sends (download)."""

    id: str
    host: str
    port: int = IPERF3_PORT
    duration_s: float = 5.0
    reverse: bool = False
    udp_kbps: float | None = None
    streams: int = 1
    dscp: int = 0
    binary: str = "iperf3"

    def argv(self, path: str) -> list[str]:
        out = [path, "-c", self.host, "-p", str(self.port), "-J", "-t", f"{self.duration_s:g}",
               "-P", str(self.streams)]
        if self.reverse:
            out.append("-R")
        if self.udp_kbps is not None:
            out += ["-u", "-b", f"{int(self.udp_kbps * 1000)}"]
        if self.dscp:
            out += ["--dscp", str(self.dscp)]
        return out


# ------------------------------------------------------------------------------------ bufferbloat

@dataclass(frozen=True)
class BufferbloatSpec:
    id: str
    load_host: str
    load_port: int = IPERF3_PORT
    ping_host: str | None = None
    idle_s: float = 3.0
    load_s: float = 6.0
    interval_s: float = 0.1
    dscp: int = 46
    max_bytes: int = 100_000_000
    streams: int = 4  # parallel TCP streams: one stream's window may not fill a deep queue
    directions: tuple[str, ...] = ("up", "down")


# ------------------------------------------------------------------------------------ local_link

@dataclass(frozen=True)
class LocalLinkSpec:
    id: str = "local_link"
    interface: str | None = None
    sample_s: float = 2.0


# ------------------------------------------------------------------------------------ link

@dataclass(frozen=True)
class LinkSpec:
    id: str = "link"
    interface: str | None = None  # None: the interface of the default route


# ------------------------------------------------------------------------------------ lldp

@dataclass(frozen=True)
class LldpSpec:
    id: str = "lldp"
    interface: str | None = None  # None: the interface of the default route
    wait_s: float = LLDP_WAIT_S


# ------------------------------------------------------------------------------------ dhcp

@dataclass(frozen=True)
class DhcpSpec:
    id: str = "dhcp"
    interface: str | None = None  # None: the interface of the default route
    vlan: int | None = None  # probe tagged on the sub-interface <interface>.<vlan>
    wait_s: float = DHCP_WAIT_S


# ------------------------------------------------------------------------------------ stun

@dataclass(frozen=True)
class StunSpec:
    """Binding requests to ``host:port`` over ``transport`` ("udp" or "tcp").

    ``count`` sequential requests give the RTT; ``discovery`` runs RFC 5780 tests when the
    server offers OTHER-ADDRESS (UDP only); ``lifetime_checkpoints_s`` (UDP only, e.g.
    ``(15, 30, 60, 120, 180)``) runs the binding-lifetime search instead of the RTT series.
    """

    id: str
    host: str
    port: int = STUN_PORT
    transport: str = "udp"
    count: int = 5
    rto_s: float = 0.5
    retransmits: int = 3
    discovery: bool = True
    lifetime_checkpoints_s: tuple[float, ...] = ()


# ------------------------------------------------------------------------------------ tls

@dataclass(frozen=True)
class TlsSpec:
    """TLS handshake with ``host:port``; ``server_name`` is the SNI / name to verify
    (default ``host``), ``cafile`` an extra trust anchor (a provider's private CA)."""

    id: str
    host: str
    port: int
    server_name: str | None = None
    cafile: str | None = None
    timeout_s: float = 5.0


# ------------------------------------------------------------------------------------ sip_alg

@dataclass(frozen=True)
class SipAlgSpec:
    """Test the SIP path to ``host:port`` over ``transport`` ("udp" or "tcp")."""

    id: str
    host: str
    port: int = SIP_PORT
    transport: str = "udp"
    mode: str = "mirror"  # "mirror" (netcheck responder) or "options" (provider's server)
    wait_s: float = 1.0
    attempts: int = 2
    key: bytes | None = field(default=None, repr=False)  # responder key: keyed mirror
    control_port: int | None = None  # responder's TCP control port: which ports it serves
    stun_host: str | None = None  # options: learn the public address (STUN, same socket)
    stun_port: int = STUN_PORT


# ------------------------------------------------------------------------------------ udp_ports

@dataclass(frozen=True)
class UdpPortsSpec:
    """Sweep ``ranges`` on the responder ``host``; ``control_port`` is its TCP control
    service (the STAMP port number) for coverage; ``stands_for`` names the profile's
    destination the responder stands in for (label only)."""

    id: str
    host: str
    ranges: tuple[tuple[int, int], ...]
    control_port: int = STAMP_PORT
    key: bytes | None = field(default=None, repr=False)
    rate_pps: float = UDP_SWEEP_RATE_PPS
    retries: int = 2
    stands_for: str = ""


# ------------------------------------------------------------------------------------ udp_egress

@dataclass(frozen=True)
class EgressRow:
    """Port-table row ``row``: UDP ``lo``-``hi`` towards ``host``."""

    row: int
    host: str
    lo: int
    hi: int


@dataclass(frozen=True)
class UdpEgressSpec:
    """Sample every row's range; ``control_host:control_port`` finds the hop and shows
    that the router beyond the edge answers at all. ``ttl`` None = find it."""

    id: str
    rows: tuple[EgressRow, ...]
    control_host: str
    control_port: int = STUN_PORT
    samples: int = 4
    ttl: int | None = None
    max_hops: int = 8
    rounds: int = 3
    burst: int = 4
    rate_pps: float = 1.0
    seed: int | None = None

    def budget_s(self) -> float:
        """Worst case: discovery (2 tries per hop, up to 3 ports, most stop early) + every sample and control silent in
        every round (1 s each), bounded so one slow site cannot stall the run."""
        probes = sum(min(self.samples, r.hi - r.lo + 1) for r in self.rows) + 1
        return min(120.0, 5.0 + 4.0 * self.max_hops + self.rounds * (probes + 1) * 1.0)


# ------------------------------------------------------------------------------------ dscp

@dataclass(frozen=True)
class DscpSpec:
    """Send ``count`` packets marked ``dscp`` to the responder ``host:port`` (a port it
    serves with ``--udp-ranges``), one every ``interval_s``."""

    id: str
    host: str
    port: int
    dscp: int = 46
    count: int = 20
    interval_s: float = 0.02
    key: bytes | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------------ exposure

@dataclass(frozen=True)
class ExposureSpec:
    id: str
    host: str
    control_port: int = STAMP_PORT
    ports: tuple[int, ...] = DEFAULT_EXPOSURE_PORTS
    key: bytes | None = field(default=None, repr=False)


# ------------------------------------------------------------------------------------ capacity

@dataclass(frozen=True)
class CallLimits:
    """What "within limits" means for one step (from the profile's path limits)."""

    max_loss_pct: float = 1.0
    max_jitter_ms: float | None = 20.0
    min_mos: float | None = None
    max_queue_growth_ms: float = 10.0


@dataclass(frozen=True)
class CallSpec:
    """The emulated calls of a load probe: responder ``host:port`` (``key`` = authenticated
    STAMP), codec, packet interval, DSCP and the jitter buffer they are judged with.
    Shared by the capacity ramp and the QoS test (:mod:`netcheck.probes.qos`)."""

    id: str
    host: str
    port: int = STAMP_PORT
    key: bytes | None = field(default=None, repr=False)
    codec: str = "G.711"
    interval_ms: float = 20.0
    dscp: int = 46
    jitter_buffer_ms: float = 60.0

    def payload_bytes(self) -> int:
        return bandwidth.codec_payload_bytes(self.codec, self.interval_ms)

    def packet_bytes(self) -> int:
        """UDP payload of one test packet (RTP-sized, at least the STAMP base size)."""
        return stamp_packet_size(self.payload_bytes(), self.key is not None)


@dataclass(frozen=True)
class CapacitySpec(CallSpec):
    """Ramp concurrent calls towards the responder at ``host:port``.

    ``required_up_kbps`` / ``required_down_kbps``: what the site needs (None: no
    requirement; the ramp then looks for the limit up to ``max_calls``)."""

    required_up_kbps: float | None = None
    required_down_kbps: float | None = None
    requirement_basis: tuple[str, ...] = ()
    margin: float = 0.25
    start_calls: int = 2
    max_calls: int = DEFAULT_MAX_CALLS
    step_s: float = 3.0
    pause_s: float = 0.3
    duration_s: float = 60.0
    method: str = "stamp"  # "stun": field mode, the provider's STUN server; uplink only
    limits: CallLimits = field(default_factory=CallLimits)

    def call_kbps(self) -> float:
        """Layer-3 bit rate of one emulated call, one direction (UDP payload + 8 + 20)."""
        size = self.packet_bytes() + bandwidth.UDP_HEADER + bandwidth.IPV4_HEADER
        return bandwidth.bitrate_kbps(size, self.interval_ms)

    def target_calls(self) -> int:
        """Calls that carry the requirement plus the margin (``max_calls`` without one)."""
        need = max(self.required_up_kbps or 0.0, self.required_down_kbps or 0.0)
        if need <= 0:
            return self.max_calls
        return min(self.max_calls, bandwidth.calls_for(need * (1 + self.margin), self.call_kbps()))


# ------------------------------------------------------------------------------------ qos

@dataclass(frozen=True)
class QosSpec(CallSpec):
    """Voice (DSCP ``dscp``) and canary (DSCP 0) calls to ``host:port`` under bulk load."""

    baseline_s: float = 3.0
    step_s: float = 3.0
    max_steps: int = 6
    bulk_port: int = DISCARD_PORT
    bulk_start_kbps: float = 1000.0
    bulk_max_kbps: float = 50_000.0
    bulk_packet_bytes: int = 1200
    saturation_delay_ms: float = 10.0
    duration_s: float = 30.0
    limits: CallLimits = field(default_factory=CallLimits)


# ------------------------------------------------------------------------------------ snmp_switch

def _snmp_columns() -> tuple[str, ...]:
    """Every column the audit reads (:mod:`netcheck.wire.lan_model`, imported when a switch is
    planned: its MIB tables cost ~15 ms that a plan without ``--switch`` does not need)."""
    from netcheck.wire import lan_model

    return tuple(lan_model.COLUMNS)


class SnmpVersion(enum.StrEnum):
    V2C = "2c"
    V3 = "3"


@dataclass(frozen=True, repr=False)
class SnmpTarget:
    """Where and how to ask. ``repr`` hides the secrets (it may end up in a traceback)."""

    host: str
    port: int = SNMP_PORT
    version: SnmpVersion = SnmpVersion.V2C
    community: str = ""
    v3_user: str = ""
    v3_auth_key: str = ""
    v3_priv_key: str = ""
    v3_auth_proto: str = "SHA"
    v3_priv_proto: str = "AES"
    v3_context: str = ""

    @property
    def label(self) -> str:
        """The switch as the measurement id names it (``snmp:<label>``): an IPv6 address
        with a port in brackets, so ``[::1]:1161`` is not ``::1:1161`` on port 161."""
        return self.host if self.port == SNMP_PORT else hostport.join(self.host, self.port)

    def secrets(self) -> list[str]:
        return [s for s in (self.community, self.v3_auth_key, self.v3_priv_key) if s]

    def __repr__(self) -> str:
        return f"SnmpTarget({self.label}, v{self.version.value})"


@dataclass(frozen=True)
class SnmpSwitchSpec:
    id: str
    target: SnmpTarget
    timeout_s: float = 1.0  # per request
    retries: int = 1
    columns: tuple[str, ...] = field(default_factory=_snmp_columns)
