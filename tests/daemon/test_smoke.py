import pytest
import trio


@pytest.mark.trio
async def test_generate_and_play(daemon):
    c = await daemon.client()
    await c.ok("subscribe")
    result = await c.ok("generate", prompt="pop song", seed=3, bars=16, play=True)
    assert result["seed"] == 3
    await c.wait_event("transport", lambda d: d["state"] == "playing")
    await trio.sleep(1.0)
    status = await c.ok("status")
    print(status)
    assert status["transport"]["state"] == "playing"
    j = await c.ok("jump", section="chorus")
    print(j)
    await c.ok("stop")
    rec = daemon.recorded()
    print(len(rec), rec[:5])
    assert rec
