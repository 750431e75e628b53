"""The embedded broker (``fsatomic://``, kombu's file-system transport with atomic writes): a consumer never reads
a message that is still being written, which with kombu's own transport stops the worker (an empty file read as
JSON: "Unrecoverable error: JSONDecodeError")."""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from core import broker


def _options(tmp_path: Path) -> dict[str, Any]:
    for name in ("queue", "processed"):
        (tmp_path / name).mkdir()
    return {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "processed_folder": str(tmp_path / "processed"),
        "store_processed": False,
    }


def test_a_message_being_written_is_invisible_to_consumers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = _options(tmp_path)
    seen_while_writing: list[str] = []
    real_replace = os.replace

    with (
        Connection("fsatomic://", transport_options=options) as producer,
        Connection("fsatomic://", transport_options=options) as consumer,
    ):
        channel = consumer.default_channel

        def replace_after_a_look(src: str, dst: str) -> None:
            # The message is on disk but not yet in place: a consumer polling now must find nothing.
            assert Path(src).read_bytes(), "the message is fully written before it is moved into place"
            try:
                channel._get("celery")
                seen_while_writing.append("a message")
            except Empty:
                seen_while_writing.append("nothing")
            real_replace(src, dst)

        monkeypatch.setattr(broker.os, "replace", replace_after_a_look)
        queue = producer.SimpleQueue("celery")
        queue.put({"task": "rotations.advance", "args": [1]})
        message = consumer.SimpleQueue("celery").get(timeout=5)
        assert message.payload == {"task": "rotations.advance", "args": [1]}
        message.ack()
    assert seen_while_writing == ["nothing"]
    assert os.listdir(options["data_folder_in"]) == []


def test_messages_keep_their_order_and_nothing_partial_is_left_behind(tmp_path: Path) -> None:
    options = _options(tmp_path)
    with Connection("fsatomic://", transport_options=options) as conn:
        queue = conn.SimpleQueue("celery")
        for n in range(50):
            queue.put({"n": n})
        received = []
        for _ in range(50):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
    assert received == list(range(50))
    assert not [name for name in os.listdir(options["data_folder_in"]) if name.endswith(".part")]


def test_the_app_uses_the_atomic_transport_when_no_redis_is_configured(settings: Any) -> None:
    from config.settings import base

    if base.REDIS_URL:
        pytest.skip("Redis is the broker here")
    assert base.CELERY_BROKER_URL == "fsatomic://"
    assert type(Connection("fsatomic://").transport) is broker.Transport


def test_two_consumers_draining_one_queue_get_each_message_exactly_once(tmp_path: Path) -> None:
    """``make run`` starts a worker process per core on one queue folder: each message must reach one of them."""
    import threading

    options = _options(tmp_path)
    count = 300
    with Connection("fsatomic://", transport_options=options) as producer:
        queue = producer.SimpleQueue("celery")
        for n in range(count):
            queue.put({"n": n})
    received: list[list[int]] = [[], [], []]

    def drain(mine: list[int]) -> None:
        with Connection("fsatomic://", transport_options=options) as conn:
            channel = conn.default_channel
            while True:
                try:
                    raw = channel._get("celery")
                except Empty:
                    return
                mine.append(channel.Message(raw, channel=channel).decode()["n"])

    threads = [threading.Thread(target=drain, args=(r,)) for r in received]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(n for r in received for n in r) == list(range(count))  # none twice, none lost
    assert os.listdir(options["data_folder_in"]) == [] and os.listdir(options["processed_folder"]) == []
