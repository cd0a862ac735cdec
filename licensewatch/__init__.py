"""licensewatch: find dormant accounts and desk phones, price them, tell focal points."""

__version__ = "0.1.0"
