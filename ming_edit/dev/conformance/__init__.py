"""Numerical conformance against fixture sets in the shared/golden format."""
