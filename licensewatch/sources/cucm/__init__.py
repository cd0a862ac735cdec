"""Phones from Cisco Unified CM (AXL, RisPort70 over SOAP), a saved pull, an inventory CSV."""
