"""Defaults of the run input that the command line shows in ``--help``: apart from
:mod:`netcheck.run.inputs` so that building the CLI loads neither msgspec nor the result
types (``netcheck history`` runs without them: issue 22)."""

from __future__ import annotations

#: default seconds to listen for LLDP: one 30 s LLDP interval (IEEE 802.1AB) + margin
LLDP_WAIT_S = 35.0
#: default seconds to collect DHCP OFFERs (RFC 2131 4.1 timing; dnsmasq pings for 3 s first)
DHCP_WAIT_S = 6.0
