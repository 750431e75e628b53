"""Cross-cutting pieces: encryption, the HTTP seam, redaction, roles, API tokens, health."""
