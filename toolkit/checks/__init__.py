"""Checks on data: data-quality assertions (and, later, distribution checks)."""
