"""Deprovisioning: removing dormant resources that a focal point approved for removal."""
