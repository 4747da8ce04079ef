"""Image health on generated pictures, and the snapshot fetched with HTTP digest from the responder."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from lvgate.drivers.onvif.driver import OnvifDeviceConfig, OnvifPoller
from lvgate.drivers.onvif.image import ImageThresholds, ImageWatch, measure
from tests.onvif_responder import PASSWORD, USERNAME, responder


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "L").save(out, "PNG")
    return out.getvalue()


def checkerboard(size: int = 320, square: int = 8) -> np.ndarray:
    y, x = np.indices((size, size))
    return (((x // square) + (y // square)) % 2) * 255


def test_black_is_too_dark_without_contrast_or_sharpness() -> None:
    h = ImageWatch(ImageThresholds()).judge(png(np.zeros((240, 320))))
    assert (h.brightness, h.contrast, h.sharpness) == (0.0, 0.0, 0.0)
    assert not h.clear and set(h.problems) == {"too dark", "no contrast", "blurred"}


def test_uniform_noise_measures_as_theory_says() -> None:
    rng = np.random.default_rng(7)
    h = measure(png(rng.integers(0, 256, (320, 320))))
    # uniform on 0..255: mean 127.5, sd sqrt((256^2-1)/12) = 73.9; for independent pixels the
    # 4-neighbour Laplacian has variance (4 + 16) * 73.9^2 = 109 225
    assert abs(h.brightness - 0.5) < 0.01
    assert abs(h.contrast - 73.9 / 255) < 0.005
    assert abs(h.sharpness - 109_225) / 109_225 < 0.03


def test_sharp_pattern_is_clear_and_blurred_pattern_is_not() -> None:
    pattern = checkerboard()
    sharp = ImageWatch(ImageThresholds()).judge(png(pattern))
    assert sharp.clear and abs(sharp.brightness - 0.5) < 0.01 and abs(sharp.contrast - 0.5) < 0.01
    blurred_img = Image.fromarray(pattern.astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(6))
    out = io.BytesIO()
    blurred_img.save(out, "PNG")
    blurred = ImageWatch(ImageThresholds()).judge(out.getvalue())
    assert blurred.sharpness < sharp.sharpness / 100
    assert not blurred.clear and "blurred" in blurred.problems


def test_same_image_n_times_is_frozen() -> None:
    watch = ImageWatch(ImageThresholds(frozen_after=3))
    picture = png(checkerboard())
    assert [watch.judge(picture).frozen for _ in range(3)] == [False, False, True]
    rng = np.random.default_rng(1)
    live = ImageWatch(ImageThresholds(frozen_after=3))
    frames = [png(np.clip(checkerboard() + rng.integers(-3, 4, (320, 320)), 0, 255)) for _ in range(4)]
    assert not any(live.judge(f).frozen for f in frames)


def test_large_jpeg_is_downscaled_before_measuring() -> None:
    out = io.BytesIO()
    Image.fromarray(checkerboard(1920, 48).astype(np.uint8), "L").save(out, "JPEG", quality=90)
    h = measure(out.getvalue())
    assert 0.45 < h.brightness < 0.55


async def test_snapshot_over_http_digest_gives_image_readings() -> None:
    out = io.BytesIO()
    Image.fromarray(checkerboard().astype(np.uint8), "L").save(out, "JPEG", quality=95)
    async with responder("onvif-nvt_hikvision-ds-2df7276-ael", snapshot=out.getvalue()) as r:
        config = OnvifDeviceConfig.model_validate(
            {"id": "cam-1", "host": "127.0.0.1", "port": r.port, "username": USERNAME, "password": PASSWORD}
        )
        poller = OnvifPoller(config)
        try:
            readings = {x.key: x.value for x in await poller.poll()}
        finally:
            await poller.close()
    assert readings["status_level"] == "streaming"
    assert readings["image_clear"] is True and readings["image_frozen"] is False
    assert readings["clock_drift_exceeded"] is False
    assert isinstance(readings["brightness"], float) and 0.45 < readings["brightness"] < 0.55
