"""Scheduler examples of the repository (cron, systemd); the entry point: ``licensewatch.jobs``."""
