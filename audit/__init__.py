"""The append-only audit history."""
