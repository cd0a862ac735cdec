"""The nightly run: named steps over one run context, staging and publishing."""
