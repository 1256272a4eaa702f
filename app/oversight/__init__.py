"""Policy delivery 2.0: checks at recording, peer risk flags, credit-first review, verification."""
