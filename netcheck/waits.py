"""How long the LAN listeners wait by default: the probes' Specs, the run input and the
command line's ``--help`` read them here. A module of its own, importing nothing, so that
building the CLI loads neither msgspec nor the result types nor the Specs (``netcheck
history`` runs without them: issue 22)."""

from __future__ import annotations

#: Seconds to listen for LLDP: one 30 s LLDP interval (IEEE 802.1AB default msgTxInterval)
#: plus margin.
LLDP_WAIT_S = 35.0
#: Default OFFER wait. Servers that check an address is free before offering it answer
#: late: dnsmasq pings the candidate address and waits 3 s for a reply (its default; OpenWrt,
#: Pi-hole, many ISP routers), Windows Server's conflict detection likewise. A 3 s wait
#: missed every such OFFER; 6 s covers the ping, the RFC 2131 retransmission at 4 s and
#: the OFFER to it.
DHCP_WAIT_S = 6.0
