"""The embedded broker of ``make run`` (no server): kombu's file-system transport, with atomic writes.

kombu's own ``_put`` (kombu 5.7, ``kombu/transport/filesystem.py``) creates the message file in the queue folder
and only then writes it, while ``_get`` moves and reads any file it lists without taking the writer's lock. A
consumer that lists the folder between the two reads an empty file and the worker stops with "Unrecoverable
error: JSONDecodeError". Here a message is written to a hidden file in the same folder (which ``_get`` ignores:
its name does not end in ``.<queue>.msg``) and renamed into place, so a consumer sees whole messages or none.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "fsatomic"


class Channel(filesystem.Channel):
    # kombu's own two signatures disagree (AbstractChannel: queue, message; filesystem.Channel: **kwargs too).
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` onto ``queue``: written aside, then renamed into the queue folder."""
        # Nanoseconds, zero-padded: consumers take files in name order, so one producer's messages stay in order
        # (kombu's milliseconds leave messages of the same millisecond in random order).
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        folder = self.data_folder_out
        partial = os.path.join(folder, f".{name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(folder, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {folder!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, "core.broker:Transport")
