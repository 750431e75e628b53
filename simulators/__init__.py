"""Loopback simulators of the external platforms Feedkeeper talks to (standard library only)."""
