"""Entry points for schedulers (cron, systemd timers): ``python -m licensewatch.jobs.nightly``."""
