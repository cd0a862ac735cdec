"""Reports a run writes: findings.csv, finance_summary.csv, and the CSV safety they share."""
