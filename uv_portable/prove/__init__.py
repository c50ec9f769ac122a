"""Prove: see docs/how-it-works.md (Code layout)."""
