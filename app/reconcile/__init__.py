"""Reconciliation with the medical-insurance fund's real settlements (SPEC §7)."""
