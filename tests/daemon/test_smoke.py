"""The shortest path through the whole daemon: generate and play, the performance moves on, a jump
is placed ahead, stop ends every note — checked through the engine's recording sink."""

import pytest
import trio

from .test_live import note_ons, unended


@pytest.mark.trio
async def test_generate_play_jump_and_stop(daemon):
    c = await daemon.client()
    await c.ok("subscribe")
    result = await c.ok("generate", prompt="pop song", seed=3, bars=16, play=True)
    assert result["seed"] == 3
    await c.wait_event("transport", lambda d: d["state"] == "playing", timeout=10)
    await c.wait_event("transport", lambda d: d["bar"] >= 3, timeout=20)  # a transport event at every bar line
    status = await c.ok("status")
    assert status["transport"]["state"] == "playing" and status["session"]["session_id"] == result["session_id"]
    jump = await c.ok("jump", section="chorus")
    assert jump["section"].startswith("chorus") and jump["at_bar"] > status["transport"]["bar"]
    await c.ok("stop")
    stopped = await c.wait_event("transport", lambda d: d["state"] == "stopped")
    assert stopped["section"] is not None
    with trio.fail_after(5):  # the engine writes its recording as it sends: wait for stop's note-offs
        while unended(daemon.recorded()):
            await trio.sleep(0.05)
    rows = daemon.recorded()
    bars = {t // 1920 for t, *_ in note_ons(rows, 0, 3 * 1920)}
    assert len(bars) >= 2, "notes bar after bar (a part that came late joins at the next bar)"
