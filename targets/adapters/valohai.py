"""Valohai adapter (being written)."""
