"""Impairment spec: parse ``"delay=30ms jitter=5ms loss=0.5% up:rate=2mbit"`` into data.

Syntax (whitespace-separated ``key=value`` tokens):

- ``delay=30ms`` fixed one-way delay (units ``s``, ``ms``, ``us``; bare number = ms)
- ``jitter=5ms`` delay variation; ``dist=normal|uniform|pareto`` its distribution
  (normal: sigma = jitter; uniform: +-jitter; pareto: jitter*(X-1), X ~ Pareto(alpha=3))
- ``loss=0.5%`` independent (Bernoulli) loss
- ``ge=p:0.01,r:0.3,h:0.0,k:1.0`` Gilbert-Elliott bursty loss. p = P(Good->Bad),
  r = P(Bad->Good), h = P(deliver | Bad), k = P(deliver | Good) (the classic definition,
  as in netem's ``loss gemodel p r 1-h 1-k``). Stationary loss:
  pi_B = p/(p+r), loss = pi_G*(1-k) + pi_B*(1-h). Defaults h=0, k=1 (Gilbert model).
- ``reorder=1%`` a packet is sent without the configured delay (netem semantics), so it
  overtakes packets still queued; needs ``delay`` larger than the packet spacing
- ``dup=0.1%`` a second copy is sent, with its own delay draw
- ``rate=2mbit`` serialisation rate limit (``bit``, ``kbit``, ``mbit``, ``gbit``; SI 1000);
  ``queue=200ms`` the largest queueing delay before tail drop (default 200 ms)

A token applies to both directions unless prefixed ``up:`` (lan -> router) or ``down:``
(router -> lan); a bare ``up:`` / ``down:`` / ``both:`` token switches the default for
the tokens that follow. Percentages need the ``%`` sign (``loss=0.5%``), so that 0.5 can
never be read as 50 % by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

DISTRIBUTIONS = ("normal", "uniform", "pareto")
DIRECTIONS = ("up", "down")

_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "": 1e-3}
_RATE_UNITS = {"bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}


class SpecError(ValueError):
    """A malformed impairment spec; the message names the offending token."""


@dataclass(frozen=True)
class GilbertElliott:
    """Two-state Markov loss model parameters (probabilities per packet)."""

    p: float
    r: float
    h: float = 0.0
    k: float = 1.0

    @property
    def pi_bad(self) -> float:
        """Stationary probability of the Bad state: p / (p + r)."""
        return self.p / (self.p + self.r) if self.p + self.r > 0 else 0.0

    @property
    def stationary_loss(self) -> float:
        """Expected long-run loss: pi_G*(1-k) + pi_B*(1-h)."""
        pb = self.pi_bad
        return (1 - pb) * (1 - self.k) + pb * (1 - self.h)


@dataclass(frozen=True)
class DirectionSpec:
    """Impairments applied to one direction of the link; all times in seconds."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    dist: str = "normal"
    loss: float = 0.0
    ge: GilbertElliott | None = None
    reorder: float = 0.0
    dup: float = 0.0
    rate_bps: float | None = None
    queue_s: float = 0.2

    @property
    def expected_loss(self) -> float:
        """Expected loss of the combined Bernoulli and GE stages (independent)."""
        ge_loss = self.ge.stationary_loss if self.ge else 0.0
        return 1 - (1 - self.loss) * (1 - ge_loss)

    @property
    def is_clean(self) -> bool:
        """True when the direction forwards every packet unchanged and at once."""
        return self == DirectionSpec()


@dataclass(frozen=True)
class ImpairSpec:
    """Both directions of the impairment link."""

    up: DirectionSpec = field(default_factory=DirectionSpec)
    down: DirectionSpec = field(default_factory=DirectionSpec)
    text: str = ""

    def direction(self, name: str) -> DirectionSpec:
        """The spec of direction ``up`` or ``down``."""
        if name not in DIRECTIONS:
            raise KeyError(name)
        return self.up if name == "up" else self.down


def parse_time(value: str) -> float:
    """``30ms`` -> 0.03 s. A bare number is milliseconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|ms|us|)", value.strip())
    if not m:
        raise SpecError(f"bad time {value!r}: use e.g. 30ms, 500us, 0.1s")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_pct(value: str) -> float:
    """``0.5%`` -> 0.005; the ``%`` is mandatory."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", value.strip())
    if not m:
        raise SpecError(f"bad percentage {value!r}: write e.g. 0.5%")
    frac = float(m.group(1)) / 100
    if frac > 1:
        raise SpecError(f"percentage {value!r} exceeds 100%")
    return frac


def parse_rate(value: str) -> float:
    """``2mbit`` -> 2e6 bit/s."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)", value.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise SpecError(f"bad rate {value!r}: use e.g. 512kbit, 2mbit")
    return float(m.group(1)) * _RATE_UNITS[m.group(2)]


def parse_ge(value: str) -> GilbertElliott:
    """``p:0.01,r:0.3,h:0,k:1`` -> GilbertElliott; p and r are required."""
    params: dict[str, float] = {}
    for part in value.split(","):
        key, sep, num = part.partition(":")
        if not sep or key not in ("p", "r", "h", "k"):
            raise SpecError(f"bad ge parameter {part!r}: use p:,r:,h:,k:")
        try:
            params[key] = float(num)
        except ValueError:
            raise SpecError(f"bad ge value {part!r}: must be a probability") from None
        if not 0.0 <= params[key] <= 1.0:
            raise SpecError(f"ge {key} must be within 0..1 (got {num})")
    if "p" not in params or "r" not in params:
        raise SpecError(f"ge needs p and r (got {value!r})")
    return GilbertElliott(**params)


def _apply(d: DirectionSpec, key: str, value: str) -> DirectionSpec:
    """Return ``d`` with one ``key=value`` token applied."""
    if key == "delay":
        return replace(d, delay_s=parse_time(value))
    if key == "jitter":
        return replace(d, jitter_s=parse_time(value))
    if key == "dist":
        if value not in DISTRIBUTIONS:
            raise SpecError(f"unknown dist {value!r}: one of {', '.join(DISTRIBUTIONS)}")
        return replace(d, dist=value)
    if key in ("loss", "reorder", "dup"):
        return replace(d, **{key: parse_pct(value)})
    if key == "ge":
        return replace(d, ge=parse_ge(value))
    if key == "rate":
        return replace(d, rate_bps=parse_rate(value))
    if key == "queue":
        return replace(d, queue_s=parse_time(value))
    raise SpecError(f"unknown impairment {key!r}")


def parse_spec(text: str) -> ImpairSpec:
    """Parse a spec string (see module docstring); an empty string is a clean link."""
    dirs = {"up": DirectionSpec(), "down": DirectionSpec()}
    default: tuple[str, ...] = DIRECTIONS
    for token in text.split():
        scope, colon, rest = token.partition(":")
        if colon and scope in ("up", "down", "both") and "=" not in scope:
            targets = DIRECTIONS if scope == "both" else (scope,)
            if not rest:
                default = targets
                continue
            token = rest
        else:
            targets = default
        key, eq, value = token.partition("=")
        if not eq or not value:
            raise SpecError(f"bad token {token!r}: expected key=value")
        for name in targets:
            dirs[name] = _apply(dirs[name], key, value)
    return ImpairSpec(up=dirs["up"], down=dirs["down"], text=text)
