"""A loopback simulator of the Valohai REST API (``python -m simulators.valohai``); standard library only."""

from .faults import FaultRule, Faults
from .server import DEFAULT_GROUP_PATH, DEFAULT_TOKEN, DEFAULT_USERNAME, ValohaiSimulator

__all__ = ["DEFAULT_GROUP_PATH", "DEFAULT_TOKEN", "DEFAULT_USERNAME", "FaultRule", "Faults", "ValohaiSimulator"]
