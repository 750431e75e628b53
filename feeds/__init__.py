"""Feeds: private package indexes, their token history, and credential checks."""
