"""Image health from a snapshot: brightness, contrast, sharpness and a frozen-picture flag.

Cheap enough for a Raspberry Pi: JPEG snapshots are decoded straight to a small greyscale
picture (Pillow's draft mode scales in the DCT domain), then measured with numpy. Sharpness
is the variance of the Laplacian, so its thresholds hold for the analysis size, not the
camera's resolution. A frozen picture is one whose downscaled pixels are identical N times
in a row: a live sensor always has some noise, a hung encoder repeats the same frame.
"""

from __future__ import annotations

import hashlib
import io
from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

ANALYSIS_SIZE = 320


class ImageThresholds(BaseModel):
    """What the inspection calls "image clear". Brightness and contrast are fractions of full scale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_brightness: float = Field(default=0.08, ge=0, le=1)
    max_brightness: float = Field(default=0.95, ge=0, le=1)
    min_contrast: float = Field(default=0.04, ge=0, le=1)
    min_sharpness: float = Field(default=30.0, ge=0, description="variance of the Laplacian at 320 px")
    frozen_after: int = Field(default=3, ge=2, le=100, description="identical snapshots in a row")


@dataclass(frozen=True, slots=True)
class ImageHealth:
    brightness: float  # mean grey level, 0..1
    contrast: float  # standard deviation of grey levels, 0..1
    sharpness: float  # variance of the 4-neighbour Laplacian, grey levels 0..255
    digest: str
    frozen: bool = False
    clear: bool = False
    problems: tuple[str, ...] = ()


class ImageError(Exception):
    pass


def grey_pixels(data: bytes, size: int = ANALYSIS_SIZE) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("L", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            grey = img.convert("L")
            grey.thumbnail((size, size))
            return np.asarray(grey, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"snapshot is not a readable image ({exc})") from exc


def laplacian_variance(pixels: np.ndarray) -> float:
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return 0.0
    centre = pixels[1:-1, 1:-1]
    lap = pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4.0 * centre
    return float(lap.var())


def measure(data: bytes) -> ImageHealth:
    pixels = grey_pixels(data)
    return ImageHealth(
        brightness=float(pixels.mean()) / 255.0,
        contrast=float(pixels.std()) / 255.0,
        sharpness=laplacian_variance(pixels),
        digest=hashlib.sha256(pixels.tobytes()).hexdigest(),
    )


class ImageWatch:
    """Judges successive snapshots of one camera against the thresholds."""

    def __init__(self, thresholds: ImageThresholds) -> None:
        self.thresholds = thresholds
        self.recent: deque[str] = deque(maxlen=thresholds.frozen_after)

    def judge(self, data: bytes) -> ImageHealth:
        h = measure(data)
        t = self.thresholds
        self.recent.append(h.digest)
        frozen = len(self.recent) == self.recent.maxlen and len(set(self.recent)) == 1
        problems = []
        if h.brightness < t.min_brightness:
            problems.append("too dark")
        if h.brightness > t.max_brightness:
            problems.append("too bright")
        if h.contrast < t.min_contrast:
            problems.append("no contrast")
        if h.sharpness < t.min_sharpness:
            problems.append("blurred")
        if frozen:
            problems.append("frozen")
        return ImageHealth(
            h.brightness, h.contrast, h.sharpness, h.digest, frozen, clear=not problems, problems=tuple(problems)
        )
