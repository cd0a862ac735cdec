"""The answer loop: answer files from focal points, approved removals, deprovisioning."""
