"""The review desk in a real browser against a running fleet: two real agents (boxa, boxb)
and the real station on a real Mosquitto, the desk served by uvicorn on the station's
database, headless Chromium. A person logs in, sees boxa's encounter in review with its
chips beside the candidates' reference chips, assigns it; the desk shows it waiting for
boxa until boxa has applied it with its own review actions and its correction arrived;
then names a stranger, and both boxes' galleries take the name from the gallery feed.
Takes the screenshots docs/screenshots/desk-*.png (BEARID_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select

from bearstation.desk.web import create_app
from bearstation.fleet.gallery_ingest import add_box_reference
from bearstation.tables import (
    chip_media,
    desk_commands,
    embeddings,
    encounters,
    fleet_individuals,
)
from support.desk_world import served_desk
from support.fleet import Box, Fleet, wait
from support.review_app import PASSWORD, password_hash
from support.review_browser import chromium, log_in, require_chromium, screenshot
from support.review_world import DECISION, T0, copy_database, newcomer, write_encounter

SHOTS = "desk-"


def images_all_load(driver: WebDriver) -> list[str]:
    """Every picture on the page arrived and decoded; returns their addresses."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1400, min(height + 40, 6000))
    wait(lambda: bool(driver.execute_script(
        "return Array.from(document.images).every(i => i.complete)")), "pictures", 15)  # fmt: skip
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)"
    )
    driver.set_window_size(1400, 1000)
    assert broken == [], f"pictures that did not load: {broken}"
    return [str(i.get_attribute("src")) for i in driver.find_elements(By.TAG_NAME, "img")]


def flash(driver: WebDriver) -> str:
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "p.flash"))


def box_row(box: Box, sql: str, *args: object) -> tuple[object, ...] | None:
    with sqlite3.connect(box.database) as db:
        row = db.execute(sql, args).fetchone()
    return None if row is None else tuple(row)


def station_has_chips(fleet: Fleet, agent_id: str, encounter_id: str, count: int) -> bool:
    with fleet.engine().connect() as conn:
        state = conn.execute(
            select(encounters.c.state).where(
                encounters.c.agent_id == agent_id, encounters.c.encounter_id == encounter_id
            )
        ).scalar_one_or_none()
        held = conn.execute(
            select(chip_media.c.sha256).where(
                chip_media.c.agent_id == agent_id, chip_media.c.encounter_id == encounter_id
            )
        ).all()
    return state == "ended" and len(held) >= count


def seed_references(fleet: Fleet, box: Box) -> None:
    """The known bears' visits become their reference chips in the fleet gallery (what a
    box's gallery brings when it joins the fleet), so the desk shows them beside."""
    with sqlite3.connect(box.database) as db:
        known = db.execute("SELECT id, individual_id FROM encounters WHERE status = 'known'")
        owners = {str(r[0]): str(r[1]) for r in known}
    for encounter_id in owners:
        wait(lambda e=encounter_id: station_has_chips(fleet, box.agent_id, e, 2),  # type: ignore[misc]
             f"the chips of {encounter_id}")  # fmt: skip
    engine = fleet.engine()
    with engine.begin() as conn:
        chips = conn.execute(
            select(chip_media.c.sha256, chip_media.c.encounter_id, embeddings.c.model_sha256)
            .join(embeddings, embeddings.c.sha256 == chip_media.c.sha256)
            .where(chip_media.c.agent_id == box.agent_id,
                   chip_media.c.encounter_id.in_(list(owners)))
        ).all()  # fmt: skip
        for sha, encounter_id, model in chips:
            add_box_reference(conn, box.agent_id, owners[encounter_id], sha, model,
                              datetime.now(UTC))  # fmt: skip
    engine.dispose()


def test_a_person_decides_a_box_encounter_at_the_desk(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    require_chromium()
    shots = tmp_path / "screenshots"
    fleet = Fleet(tmp_path, mosquitto_binary, box_config={"decision": DECISION},
                  station={"desk": {"resend_s": 2.0}})  # fmt: skip
    for box in fleet.boxes.values():  # the template's gallery may still sit in its WAL
        box.database.unlink()
        copy_database(tmp_path / "template" / "state" / "bearagent.db", box.database)
    with fleet:
        boxa, boxb = fleet.boxes["boxa"], fleet.boxes["boxb"]
        # boxa's known bears visit (so the fleet gallery learns them from its events), then a
        # bear it is unsure of, and a stranger.
        for k, name in enumerate(sorted(boxa.world.unseen)):
            chips = boxa.world.unseen[name][:2]
            write_encounter(boxa.world, "cam01", chips, T0 - timedelta(hours=3 - k), f"k{k}")
        stranger = boxa.world.stranger[0]
        write_encounter(boxa.world, "cam02", stranger, T0, "s")
        write_encounter(boxa.world, "cam03", newcomer()[0], T0 + timedelta(hours=1), "n")
        wait(lambda: box_row(boxa, "SELECT count(*) FROM encounters WHERE ended = 1")
             == (5,), "boxa to end its five encounters")  # fmt: skip
        review = str(box_row(boxa, "SELECT id FROM encounters WHERE status = 'review'")[0])  # type: ignore[index]
        provisional = str(box_row(boxa, "SELECT individual_id FROM encounters WHERE "
                                        "status = 'unknown'")[0])  # type: ignore[index]  # fmt: skip
        wait(lambda: station_has_chips(fleet, "boxa", review, len(stranger)),
             "the review encounter and its chips at the station")  # fmt: skip
        seed_references(fleet, boxa)
        config = fleet.station_config()
        engine = fleet.engine()
        app = create_app(config, engine, password_hash())
        with served_desk(app, config) as base, chromium(tmp_path / "profile") as d:
            # No picture without a session; every page sends a stranger to the login form.
            d.get(f"{base}/queue")
            assert "/login" in d.current_url
            screenshot(d, shots, SHOTS + "login")
            log_in(d, "Anna", PASSWORD)
            assert d.current_url == f"{base}/queue"
            card = d.find_element(By.ID, f"e-boxa-{review}")
            assert "boxa" in card.text and "review" in card.text.lower()
            sources = images_all_load(d)
            own = card.find_elements(By.CSS_SELECTOR, ".row.mine img")
            assert len(own) == len(stranger)  # its chips, from the station's media store
            beside = card.find_elements(By.CSS_SELECTOR, ".row:not(.mine) img")
            assert len(beside) >= 3  # its candidates' reference chips
            assert all("/media/" in s for s in sources)
            screenshot(d, shots, SHOTS + "queue")

            # Decide it: assign it to its best candidate.
            card.find_element(By.CSS_SELECTOR, "a.decide").click()
            images_all_load(d)
            button = d.find_element(By.CSS_SELECTOR, ".candidate form.result button")
            label = button.text.removeprefix("Assign to ")
            screenshot(d, shots, SHOTS + "encounter")
            button.click()
            assert f"to {label}: waiting for boxa" in flash(d)
            assert d.find_element(By.CSS_SELECTOR, "span.decision.waiting").text == (
                "waiting for boxa"
            )
            screenshot(d, shots, SHOTS + "waiting")

            # boxa applies it with its own review actions and publishes the correction.
            wait(lambda: box_row(boxa, "SELECT status FROM encounters WHERE id = ?", review)
                 == ("known",), "boxa to apply the decision")  # fmt: skip
            target = box_row(boxa, "SELECT e.individual_id, i.name FROM encounters e JOIN "
                                   "individuals i ON i.id = e.individual_id WHERE e.id = ?",
                             review)  # fmt: skip
            assert target is not None and target[1] == label

            def applied() -> bool:
                with engine.connect() as conn:
                    state = conn.execute(select(desk_commands.c.state)).scalar_one()
                return bool(state == "applied")

            wait(applied, "the desk to see boxa's correction")
            d.get(f"{base}/encounter/boxa/{review}")
            assert d.find_element(By.CSS_SELECTOR, "span.decision.applied").text == (
                "applied by boxa"
            )
            assert "decided by a person" in d.page_source
            screenshot(d, shots, SHOTS + "applied")

            # Name the stranger: the fleet gallery, then both boxes through the feed.
            d.get(f"{base}/strangers")
            stranger_card = d.find_element(By.ID, f"p-{provisional}")
            images_all_load(d)
            screenshot(d, shots, SHOTS + "strangers")
            stranger_card.find_element(By.NAME, "name").send_keys("Bruno")
            stranger_card.find_element(By.CSS_SELECTOR, "button.primary").click()
            assert f"named {provisional} 'Bruno'" in flash(d)
            for box in (boxa, boxb):
                wait(lambda b=box: box_row(b, "SELECT name FROM individuals WHERE id = ?",  # type: ignore[misc]
                                           provisional) == ("Bruno",),
                     f"{box.agent_id} to call {provisional} Bruno")  # fmt: skip
            with engine.connect() as conn:
                named = conn.execute(
                    select(fleet_individuals.c.name, fleet_individuals.c.provisional).where(
                        fleet_individuals.c.id == provisional
                    )
                ).one()
            assert tuple(named) == ("Bruno", False)
            d.get(f"{base}/decisions")
            screenshot(d, shots, SHOTS + "decisions")
        engine.dispose()
