"""The live page in a real headless Chromium: an alarm appears without reloading, is acknowledged
from the page, and the API agrees. A screenshot is saved in the test's tmp dir."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lvgate.reading import now_ms
from tests.collector_peers import Publisher, iso, running_collector, telemetry
from tests.services import MosquittoBroker, find_program, wait_for_async
from tests.test_collector_api import api_config

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver = find_program("chromium"), find_program("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}",
        "--window-size=412,915",
    ):  # a phone-sized window
        options.add_argument(flag)  # fmt: skip
    service = webdriver.ChromeService(executable_path=driver, log_output=str(tmp_path / "chromedriver.log"))
    chrome = webdriver.Chrome(options=options, service=service)
    try:
        yield chrome
    finally:
        chrome.quit()


async def test_alarm_appears_live_and_is_acknowledged_from_the_page(
    tmp_path: Path, mqtt_broker: MosquittoBroker, browser: Any
) -> None:
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(api_config(tmp_path, mqtt_broker.port)) as collector:
            url = f"http://127.0.0.1:{collector.api_port}/"
            await asyncio.to_thread(browser.get, url)

            def page_live() -> bool:
                return bool(browser.find_element(By.ID, "live").text == "live")

            await wait_for_async(lambda: asyncio.to_thread(page_live), timeout=15, what="the page's live stream")

            def type_token() -> None:
                field = browser.find_element(By.ID, "token")
                field.clear()
                field.send_keys("s3cret-alice")
                browser.find_element(By.CSS_SELECTOR, "#token-form button").click()

            await asyncio.to_thread(type_token)
            assert browser.find_elements(By.CSS_SELECTOR, ".alarm") == []
            # Raise the alarm only now: the page must show it without being reloaded.
            await publisher.send([("lvgate/gw-1/env-1/telemetry",
                                   telemetry("env-1", "env_sensor", iso(now_ms() - 1000), {"temperature": 38.0}))])  # fmt: skip

            def ack_button() -> Any:
                found = browser.find_elements(By.CSS_SELECTOR, ".alarm[data-state='raised'] button.ack")
                return found[0] if found else None

            button = await wait_for_async(
                lambda: asyncio.to_thread(ack_button), timeout=20, what="the alarm on the page"
            )
            text = await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, ".alarm").text)
            assert "Level II" in text and "Room too hot" in text and "response: 29 min" in text
            assert "env-1" in await asyncio.to_thread(lambda: browser.find_element(By.ID, "rooms").text)
            alarm_id = await asyncio.to_thread(button.get_attribute, "data-alarm")
            await asyncio.to_thread(button.click)

            def acknowledged_on_page() -> bool:
                return bool(browser.find_elements(By.CSS_SELECTOR, ".alarm[data-state='acknowledged']"))

            await wait_for_async(lambda: asyncio.to_thread(acknowledged_on_page), timeout=15, what="acknowledged")
            await asyncio.to_thread(browser.save_screenshot, str(tmp_path / "duty-page.png"))
            async with httpx.AsyncClient() as http:
                alarm = (await http.get(f"{url}api/alarms/{alarm_id}")).json()
    finally:
        publisher.close()
    assert alarm["state"] == "acknowledged" and alarm["acknowledged_by"] == "alice"
    assert [n["kind"] for n in alarm["notes"]] == ["acknowledge"]
    assert (tmp_path / "duty-page.png").stat().st_size > 1000
