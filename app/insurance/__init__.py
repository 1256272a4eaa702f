"""Real-time settlement with the national medical-insurance platform (SPEC §7, §9)."""
