"""Subcommands of `workbench`, one module per area (see workbench/cli.py)."""
