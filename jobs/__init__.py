"""Entry points for schedulers (cron, systemd timers)."""
