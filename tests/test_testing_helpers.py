"""The helpers of ``activitypub_kit.testing`` that other tests lean on."""

from __future__ import annotations

import time

import anyio
import pytest

from activitypub_kit.testing import watch_event_loop

pytestmark = pytest.mark.anyio


async def test_watch_event_loop_sees_a_blocking_call_and_not_a_sleep():
    async with watch_event_loop() as calm:
        await anyio.sleep(0.05)
    async with watch_event_loop() as held:
        await anyio.sleep(0.01)  # let it tick once before the loop is held
        time.sleep(0.15)  # noqa: ASYNC251 - on purpose: holds the event loop
        await anyio.sleep(0.01)  # and one tick after, to record the gap
    assert calm.gaps
    assert held.longest >= 0.15
    assert calm.longest < held.longest
