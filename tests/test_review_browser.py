"""The whole loop in a real browser: the agent decides (a real `Agent` on real files with
a real Mosquitto), a person corrects on the review page in headless Chromium, and the
agent and the broker see it. Takes the screenshots in docs/screenshots
(BEARID_UPDATE_SCREENSHOTS=1 writes them there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.gallery import get_individual
from bearagent.store import open_database
from bearagent.wire.payloads import load_schema
from support.agent_world import make_world
from support.broker import Mosquitto
from support.review_app import PASSWORD, make_app, served
from support.review_browser import chromium, log_in, require_chromium, screenshot
from support.review_world import T0, newcomer, settings, write_encounter
from support.subscriber import Message, Subscriber

VALIDATOR = Draft202012Validator(load_schema())


def ends(sub: Subscriber, count: int, timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """The next `count` `end` events, by camera."""
    got: dict[str, dict[str, Any]] = {}
    while len(got) < count:
        msg = sub.wait_for(lambda m: m.channel == "sighting" and m.json()["type"] == "end",
                           timeout)  # fmt: skip
        event = msg.json()
        VALIDATOR.validate(event)
        got[event["camera"]] = event
    return got


def correction(sub: Subscriber, action: str) -> dict[str, Any]:
    """The next `correction` event with `action`, checked against the schema."""

    def match(m: Message) -> bool:
        return m.channel == "correction" and m.json()["action"] == action

    event: dict[str, Any] = sub.wait_for(match, 30.0).json()
    VALIDATOR.validate(event)
    return event


def images_all_load(driver: WebDriver) -> bool:
    """Every picture on the page arrived and decoded (none refused or broken). The window
    grows to the whole page first: pictures load lazily, once in view."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1400, min(height + 40, 6000))
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
    )
    loaded = driver.execute_script(
        "return Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)"
    )
    driver.set_window_size(1400, 1000)
    assert loaded == [], f"pictures that did not load: {loaded}"
    return True


def flash(driver: WebDriver) -> str:
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "p.flash"))


def test_a_person_reviews_while_the_agent_runs(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    require_chromium()
    world = make_world(tmp_path)
    cfg = AgentConfig.model_validate(settings(
        world, world.database, agent={"publisher": "mqtt"},
        mqtt={"host": broker.host, "port": broker.port},
    ))  # fmt: skip
    shots = tmp_path / "screenshots"
    sub = subscribe(broker, "bearid/box1/#")
    agent = Agent(cfg)
    agent.start()
    try:
        write_encounter(world, "cam02", world.stranger[0], T0, "s")
        write_encounter(world, "cam03", newcomer()[0], T0 + timedelta(hours=1), "n")
        first = ends(sub, 2)
        assert first["cam02"]["decision"]["status"] == "review"
        assert first["cam03"]["decision"]["status"] == "unknown"
        review_id = first["cam02"]["encounter_id"]
        provisional = first["cam03"]["decision"]["individual_id"]
        db = open_database(world.database)
        names = sorted(world.unseen)
        holly, otis = get_individual(db, names[0]), get_individual(db, names[1])
        app = make_app(cfg)
        with served(app, cfg) as base, chromium(tmp_path / "profile") as d:
            # Log in: every page sends a stranger to the login form first.
            d.get(f"{base}/queue")
            assert "/login" in d.current_url
            screenshot(d, shots, "login")
            log_in(d, "Anna", PASSWORD)
            assert d.current_url == f"{base}/queue"
            cards = d.find_elements(By.CSS_SELECTOR, "article.encounter")
            assert [c.get_attribute("id") for c in cards] == [
                f"e-{first['cam03']['encounter_id']}", f"e-{review_id}"
            ]  # fmt: skip
            assert images_all_load(d)
            screenshot(d, shots, "queue")

            # Review the uncertain encounter and assign it to a bear found by name.
            d.find_element(By.CSS_SELECTOR, f"#e-{review_id} a.decide").click()
            assert "is still open" not in d.page_source
            search = d.find_element(By.NAME, "q")
            search.send_keys(holly.name or "")
            search.submit()
            screenshot(d, shots, "encounter")
            refs_before = holly.references
            button = d.find_element(By.CSS_SELECTOR, "form.result button")
            assert button.text == f"Assign to {holly.label}"
            button.click()
            assert "assigned encounter" in flash(d)

            # The gallery changed: the encounter's chips became Holly's references.
            d.get(f"{base}/individual/{holly.id}")
            now = get_individual(db, holly.id)
            assert now.references > refs_before
            assert f"{now.references} references" in d.page_source
            assert images_all_load(d)
            assigned = correction(sub, "assign")
            assert assigned["encounter_id"] == review_id and assigned["by"] == "Anna"
            assert assigned["after"] == {"status": "known", "individual_id": holly.id,
                                         "name": holly.name}  # fmt: skip

            # The agent's next chips of that bear are decided as Holly.
            write_encounter(world, "cam04", world.stranger[1], T0 + timedelta(hours=3), "t")
            later = ends(sub, 1)["cam04"]
            assert (later["decision"]["status"], later["decision"]["individual_id"]) == (
                "known", holly.id
            )  # fmt: skip
            d.get(f"{base}/individual/{holly.id}")  # its history: reviewed, then automatic
            assert len(d.find_elements(By.CSS_SELECTOR, "svg.timeline circle")) == 2
            screenshot(d, shots, "individual")

            # Merge the provisional bear into a named one.
            d.get(f"{base}/provisional")
            assert provisional in d.page_source
            screenshot(d, shots, "provisional")
            form = d.find_element(By.CSS_SELECTOR, f"#p-{provisional} form[action$='/merge']")
            Select(form.find_element(By.NAME, "into")).select_by_value(otis.id)
            form.find_element(By.CSS_SELECTOR, "button").click()
            assert f"merged {provisional} into {otis.label}" in flash(d)
            merged = correction(sub, "merge")
            assert merged["before"]["individual_id"] == provisional
            assert merged["after"]["individual_id"] == otis.id
            assert (
                db.execute("SELECT 1 FROM individuals WHERE id = ?", [provisional]).fetchone()
                is None
            )
            d.get(f"{base}/gallery")
            assert images_all_load(d)
            screenshot(d, shots, "gallery")

            # Undo the merge from the audit page.
            d.get(f"{base}/audit")
            screenshot(d, shots, "audit")
            d.find_element(By.XPATH, "//button[text()='Undo']").click()
            assert "undid #2 (merge)" in flash(d)
            undone = correction(sub, "undo")
            assert undone["undoes"] == merged["event_id"]
            assert get_individual(db, provisional).kind == "provisional"
            assert d.find_element(By.CSS_SELECTOR, "tr.undone td").text == "2"
    finally:
        agent.stop()
