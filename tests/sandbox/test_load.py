"""python -m sandbox.load: right-sized bodies for the inference server, and an honest report."""

from __future__ import annotations

import asyncio
import io
import json

from aiohttp import web
from PIL import Image

from sandbox import load

METADATA = {
    "model_spec": {"name": "pets"},
    "metadata": {"signature_def": {"signature_def": {"serving_default": {"inputs": {"images": {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": [{"size": "-1"}, {"size": "24"}, {"size": "24"}, {"size": "3"}]},
    }}}}}},
}  # fmt: skip


async def _serve(seen: list) -> web.AppRunner:
    async def metadata(request):
        return web.json_response(METADATA)

    async def predict(request):
        body = json.loads(await request.read())
        image = body["instances"][0]
        seen.append((len(image), len(image[0]), len(image[0][0])))
        if len(seen) % 5 == 0:
            return web.json_response({"error": "overloaded"}, status=503)
        return web.json_response({"predictions": [[0]]})

    app = web.Application()
    app.router.add_get("/v1/models/pets/metadata", metadata)
    app.router.add_post("/v1/models/pets:predict", predict)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def test_it_sends_images_of_the_models_size_and_reports_errors_and_latency():
    seen: list = []

    async def scenario():
        runner = await _serve(seen)
        port = runner.addresses[0][1]
        args = load.parse_args(
            ["--url", f"http://127.0.0.1:{port}/v1/models/pets:predict",
             "--rate", "50", "--duration", "0.4"]
        )  # fmt: skip
        try:
            return await load.run(args)
        finally:
            await runner.cleanup()

    report = asyncio.run(scenario())
    assert set(seen) == {(24, 24, 3)}
    assert report["requests"] == 20
    assert report["errors"] == 4
    assert report["statuses"] == {"200": 16, "503": 4}
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]


def test_its_png_is_a_real_image_of_the_asked_size():
    image = Image.open(io.BytesIO(load.png(40, 30)))
    assert image.size == (40, 30)
    assert image.mode == "RGB"
