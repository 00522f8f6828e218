"""Agent: scheduled runs (``agent``), the SQLite history (``store``), the Prometheus
exporter (``metrics``) and trend statistics (``trends``)."""
