"""The embedded broker of ``make run`` (no server): kombu's file-system transport, with atomic writes.

kombu's own ``_put`` (kombu 5.7, ``kombu/transport/filesystem.py``) creates the message file in the queue folder
and only then writes it, while ``_get`` moves and reads any file it lists without taking the writer's lock. A
consumer that lists the folder between the two reads an empty file and the worker stops with "Unrecoverable
error: JSONDecodeError". Here a message is written to a hidden file in the same folder (which ``_get`` ignores:
its name does not end in ``.<queue>.msg``) and renamed into place, so a consumer sees whole messages or none.

kombu's ``_get`` takes a message by ``shutil.move`` into the processed folder, by default the system's temporary
folder: on another file system that is a copy and a delete, and two worker processes can both copy, and run, the same
message. Here a consumer takes a message by renaming it into the processed folder, which must be on the same file
system as the queue: a rename is atomic, so exactly one consumer gets each message and the others move on.
"""

from __future__ import annotations

import os
import threading
import uuid
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

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

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        """The next message of ``queue``, in name order; taken by an atomic rename, so one consumer gets it."""
        suffix = f".{queue}.msg"
        processed = self.processed_folder
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(".") or not name.endswith(suffix) or name.partition(".")[2] != suffix[1:]:
                continue
            taken = os.path.join(processed, f"{os.getpid()}-{threading.get_ident()}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except FileNotFoundError:
                continue  # another consumer took it first
            except OSError as exc:
                raise ChannelError(
                    f"Cannot take a message from {self.data_folder_in!r} into {processed!r}: both must be folders of "
                    "one file system"
                ) from exc
            try:
                with open(taken, "rb") as f:
                    payload = f.read()
                if not self.store_processed:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read the message {taken!r}") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, "core.broker:Transport")
