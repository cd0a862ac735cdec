"""licensewatch: find dormant Microsoft 365 accounts and IP desk phones, price them, tell focal points."""

__version__ = "0.1.0"
