"""Disclosure control and publication-ready indicator tables."""
