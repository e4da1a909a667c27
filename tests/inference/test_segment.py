"""POST /v1/segment: images in, class masks (PNG) or per-class fractions (JSON) out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.inference.conftest import IMAGE_SIZE, MODEL_VERSION, parse_metrics, sample


def encoded(fmt: str, size=(50, 40), mode="RGB", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze() if channels == 1 else pixels, mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decode_mask(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.mode == "L"
    return np.asarray(image)


@pytest.mark.parametrize(("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_it_returns_a_class_mask_png_at_the_original_size(server, fmt, content_type):
    response = server.post("/v1/segment", data=encoded(fmt), headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Model-Version"] == MODEL_VERSION
    mask = decode_mask(response.content)
    assert mask.shape == (40, 50)
    assert mask.max() < 3


def test_the_mask_is_the_argmax_of_the_model_on_the_resized_image(server, reference_predict):
    data = encoded("PNG", size=(IMAGE_SIZE, IMAGE_SIZE), seed=4)
    response = server.post("/v1/segment", data=data, headers={"Content-Type": "image/png"})
    pixels = np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32)[np.newaxis]
    expected = np.argmax(reference_predict(pixels)[0], axis=-1)
    np.testing.assert_array_equal(decode_mask(response.content), expected)


def test_it_returns_class_fractions_as_json_when_asked(server):
    data = encoded("JPEG", seed=5)
    by_query = server.post("/v1/segment?format=json", data=data)
    by_accept = server.post("/v1/segment", data=data, headers={"Accept": "application/json"})
    png = server.post("/v1/segment", data=data)
    assert by_query.status_code == by_accept.status_code == 200
    body = by_query.json()
    assert body == by_accept.json()
    assert body["classes"] == ["pet", "background", "border"]
    assert (body["width"], body["height"]) == (50, 40)
    assert body["model_version"] == MODEL_VERSION
    assert sum(body["class_fractions"].values()) == pytest.approx(1.0)
    mask = decode_mask(png.content)
    for index, name in enumerate(body["classes"]):
        assert body["class_fractions"][name] == pytest.approx(np.mean(mask == index))


def test_it_segments_16_bit_greyscale_png(server):
    pixels = (np.arange(50 * 40, dtype=np.uint16) * 31).reshape(40, 50)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    response = server.post("/v1/segment", data=buffer.getvalue())
    assert response.status_code == 200, response.text
    assert decode_mask(response.content).shape == (40, 50)


def test_it_takes_the_image_from_a_multipart_upload(server):
    data = encoded("PNG", mode="RGBA", seed=6)
    response = server.post("/v1/segment", files={"image": ("cat.png", data, "image/png")})
    assert response.status_code == 200, response.text
    assert decode_mask(response.content).shape == (40, 50)
    greyscale = server.post("/v1/segment", files={"file": ("g.jpg", encoded("JPEG", mode="L"))})
    assert greyscale.status_code == 200, greyscale.text


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment", "reason"),
    [
        ({"data": b""}, 400, "carries no image", "empty_body"),
        ({"data": b"GIF89a not supported"}, 400, "not a PNG or JPEG", "bad_image"),
        ({"data": encoded("PNG")[:60]}, 400, "cannot decode the PNG image", "bad_image"),
        ({"data": encoded("JPEG")[:40]}, 400, "cannot decode the JPEG image", "bad_image"),
        (
            {"data": b'{"image": 1}', "headers": {"Content-Type": "application/json"}},
            415,
            "is not an image",
            "unsupported_media_type",
        ),
        ({"files": {"note": ("", b"")}, "data": {"a": "b"}}, 400, "no file part", "empty_body"),
        ({"data": encoded("PNG"), "params": {"format": "gif"}}, 400, "format must be", None),
    ],
)
def test_it_rejects_bad_images_with_a_clear_4xx(server, kwargs, status, fragment, reason):
    before = server.metrics()
    response = server.post("/v1/segment", **kwargs)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    if reason:
        after = server.metrics()
        labels = {
            "model_name": "pets",
            "model_version": MODEL_VERSION,
            "endpoint": "segment",
            "code": str(status),
            "reason": reason,
        }
        name = "inference_request_errors_total"
        assert sample(after, name, **labels) == sample(before, name, **labels) + 1


def test_it_refuses_images_over_the_pixel_limit_with_413(server):
    # 1100x1000 is over the shared server's MAX_IMAGE_PIXELS of one million; blank, so small.
    buffer = io.BytesIO()
    Image.new("RGB", (1100, 1000)).save(buffer, format="PNG")
    response = server.post("/v1/segment", data=buffer.getvalue())
    assert response.status_code == 413
    assert "MAX_IMAGE_PIXELS" in response.json()["error"]
    assert parse_metrics(server.get("/metrics").text)  # the server is still answering
