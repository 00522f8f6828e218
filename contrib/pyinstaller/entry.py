"""PyInstaller entry point: the same as ``netcheck`` (netcheck.cli:main)."""

from netcheck.cli import main

main()
