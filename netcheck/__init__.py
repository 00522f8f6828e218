"""netcheck: network-readiness and VoIP-quality diagnostics for hosted-PBX migrations."""

__version__ = "0.1.0"
