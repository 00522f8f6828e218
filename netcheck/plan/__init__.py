"""Plan: which probe runs against which target, with which deadline (``core`` builds the
list; ``firewall`` and ``capacity`` contribute their areas' runs; ``runs`` holds the types
they share)."""
