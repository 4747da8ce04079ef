"""Cost of one full ONVIF camera check (clock, identity, services, profiles, URIs) on loopback.

Run: .venv/bin/python bench/onvif_client_cost.py [fixtures/onvif/<camera>]
Prints import time, check time and peak RSS, for comparing with other clients on a Pi.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

t0 = time.perf_counter()
import httpx  # noqa: E402

from lvgate.drivers.onvif.camera import OnvifCamera  # noqa: E402
from lvgate.drivers.onvif.simulator import CameraServer, RecordedCamera  # noqa: E402
from lvgate.drivers.onvif.soap import SoapClient  # noqa: E402

IMPORT_S = time.perf_counter() - t0


async def main(recording: Path, rounds: int = 20) -> None:
    server = CameraServer(RecordedCamera(recording, password="pw"))
    await server.start()
    async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
        camera = OnvifCamera(SoapClient("bench", http, "admin", "pw"), server.device_url)
        start = time.perf_counter()
        for _ in range(rounds):
            state = await camera.check()
        per_check = (time.perf_counter() - start) / rounds
    await server.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{recording.name}: level {state.level.word}; import {IMPORT_S:.2f} s; "
          f"{per_check * 1000:.1f} ms per check (client+responder); peak RSS {rss:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "shared/fixtures/onvif/onvif-nvt_hikvision-ds-2df7276-ael"
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
