"""Analysis: pure math without I/O — E-model (ITU-T G.107/G.113), RFC 3550 jitter and
window statistics, bandwidth per call, per-hop path segmentation."""
