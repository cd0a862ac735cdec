"""HR separations: CSV and XLSX extracts, a database query."""
