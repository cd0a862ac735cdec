"""The command line: one module per command group, dispatched from one table."""

from licensewatch.cli.parser import main

__all__ = ["main"]
