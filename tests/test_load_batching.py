"""Micro-batching under load and at rest: a lone chip goes through at once, a burst
fills batches (waiting up to the batch window), and a stop request is honoured."""

from __future__ import annotations

import queue
import threading
import time

from bearagent.pipeline.batcher import collect_batch


def test_a_lone_item_does_not_wait_for_the_batch_window() -> None:
    source: queue.Queue[int] = queue.Queue()
    source.put(1)
    start = time.monotonic()
    batch = collect_batch(source, max_items=8, max_wait_s=2.0, stop=threading.Event())
    assert batch == [1]
    assert time.monotonic() - start < 0.5  # not the 2 s window


def test_a_burst_under_way_waits_for_the_batch_to_fill() -> None:
    source: queue.Queue[int] = queue.Queue()
    for i in range(3):
        source.put(i)

    def more() -> None:  # the rest of the burst arrives a moment later
        time.sleep(0.2)
        for i in range(3, 10):
            source.put(i)

    feeder = threading.Thread(target=more)
    feeder.start()
    batch = collect_batch(source, max_items=8, max_wait_s=2.0, stop=threading.Event())
    feeder.join()
    assert batch == list(range(8))
    assert collect_batch(source, max_items=8, max_wait_s=0.05, stop=threading.Event()) == [8, 9]


def test_nothing_queued_or_stopping_gives_an_empty_batch() -> None:
    source: queue.Queue[int] = queue.Queue()
    stop = threading.Event()
    assert collect_batch(source, 8, 1.0, stop, idle_s=0.05) == []
    source.put(1)
    stop.set()
    assert collect_batch(source, 8, 1.0, stop) == []
    assert source.qsize() == 1  # left for the next run, not dropped
