"""The platforms' REST clients build on :mod:`core.vendor`; here their errors are :class:`AdapterError`."""

from __future__ import annotations

from typing import ClassVar

from core import vendor
from core.vendor import TRANSIENT, Failure, failure_of, first_line
from targets.adapters.base import AdapterError

__all__ = ["TRANSIENT", "Failure", "VendorClient", "failure_of", "first_line"]


class VendorClient(vendor.VendorClient):
    """A target platform's client: errors are :class:`AdapterError` (see :class:`core.vendor.VendorClient`)."""

    error_class: ClassVar[type[vendor.VendorError]] = AdapterError
