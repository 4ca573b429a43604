"""The review desk in process (Starlette's TestClient) on a real station database, SQLite
and PostgreSQL: every box's encounters waiting with their chips from the media store
beside the candidates' reference chips, the decisions that become commands for the box
that owns the encounter, the fleet gallery's name and merge, and the edge: no page and
no picture without a session, CSRF on every form, throttled logins, each refusal word
for word."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bearstation.desk.web import create_app
from bearstation.desk.web.app import ROUTES
from bearstation.fleet.gallery import get_fleet_individual
from bearstation.tables import desk_commands, fleet_feed
from support.desk_world import HOLLY, OTIS, DeskWorld, build_desk_world
from support.review_app import PASSWORD, csrf_of, password_hash

LOGIN_REQUIRED = "401 log in first: the review desk needs a session"
CSRF_REFUSED = "403 refused: the form's CSRF token is missing or wrong; reload the page"


@pytest.fixture
def world(station_db: str, tmp_path: Path) -> Iterator[DeskWorld]:
    built = build_desk_world(station_db, tmp_path)
    yield built
    built.engine.dispose()


@pytest.fixture
def client(world: DeskWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.config, world.engine, password_hash())) as c:
        yield c


@pytest.fixture
def one(tmp_path: Path) -> Iterator[tuple[DeskWorld, TestClient]]:
    """The world on SQLite only, for what does not depend on the database engine."""
    built = build_desk_world(f"sqlite:///{tmp_path / 'station.db'}", tmp_path)
    with TestClient(create_app(built.config, built.engine, password_hash())) as c:
        yield built, c
    built.engine.dispose()


def log_in(client: TestClient, name: str = "Anna") -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORD,
                                           "next": "/queue"}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text


def flashes(html: str) -> list[str]:
    """The messages of the last action, as a person reads them."""
    found = re.findall(r'<p class="flash[^>]*>(.*?)</p>', html, re.S)
    return [unescape(re.sub(r"\s+", " ", m).strip()) for m in found]


def commands(world: DeskWorld) -> list[tuple[str, str, str, str | None, str]]:
    with world.engine.connect() as conn:
        rows = conn.execute(select(desk_commands).order_by(desk_commands.c.created_at))
        return [(r.agent_id, r.encounter_id, r.action, r.individual_id, r.state) for r in rows]


def test_no_page_no_picture_and_no_form_without_a_session(
    one: tuple[DeskWorld, TestClient],
) -> None:
    world, client = one
    values = {"agent_id": "boxa", "encounter_id": world.review, "individual_id": HOLLY,
              "command_id": "x", "sha256": world.shas[world.review][0]}  # fmt: skip
    checked = 0
    for route in ROUTES:
        if isinstance(route, Mount) or not isinstance(route, Route) or route.path == "/login":
            continue
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], route.path)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            response = client.request(method, path, follow_redirects=False)
            checked += 1
            if method == "GET" and not path.startswith("/media"):
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/login?next=%2F")
            else:
                assert (response.status_code, response.text) == (401, LOGIN_REQUIRED), path
    assert checked >= 15
    # The picture is there: with a session it is served, byte for byte.
    log_in(client)
    sha = world.shas[world.review][0]
    image = client.get(f"/media/{sha}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == world.media.open_bytes(sha)
    assert image.headers["cache-control"] == "private, max-age=86400"


def test_pictures_are_named_by_their_hash_only(one: tuple[DeskWorld, TestClient]) -> None:
    client = one[1]
    log_in(client)
    for name in ("x.jpg", "..%2F..%2Fetc%2Fpasswd", "A" * 64, "ab" * 31 + "zz", "ab/" * 22):
        response = client.get(f"/media/{name}")
        assert (response.status_code, response.text) == (
            403, "403 refused: a chip is named by its SHA-256 (64 hex digits)"
        ), name  # fmt: skip
    assert client.get("/media/../../etc/passwd").status_code in (403, 404)
    response = client.get(f"/media/{'0' * 64}")
    assert (response.status_code, response.text) == (404, "404 no such image")


def test_the_queue_shows_every_box_with_chips_beside_the_candidates(
    world: DeskWorld, client: TestClient
) -> None:
    log_in(client)
    page = client.get("/queue")
    html = page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"
    ids = re.findall(r'<article class="encounter" id="e-([^"]+)"', html)
    # Newest first; the known ones are decided, the unknown one waits for a person.
    assert ids == [f"boxb-{world.other}", f"boxa-{world.still_open}", f"boxa-{world.unknown}",
                   f"boxa-{world.review}"]  # fmt: skip
    assert "4 encounters waiting across the fleet" in html
    review = html.split(f'id="e-boxa-{world.review}"')[1].split("</article>")[0]
    for sha in world.shas[world.review]:  # the encounter's own chips
        assert f'src="/media/{sha}"' in review
    with world.engine.connect() as conn:
        from bearstation.fleet.gallery import fleet_references

        holly_refs = [r.sha256 for r in fleet_references(conn, HOLLY)][:4]
    for sha in holly_refs:  # beside Holly's reference chips, with the score
        assert f'src="/media/{sha}"' in review
    assert "similarity 0.810" in review and "similarity 0.520" in review
    assert "Confirm: Holly" in review
    opened = html.split(f'id="e-boxa-{world.still_open}"')[1].split("</article>")[0]
    assert "still open on boxa" in opened and "not at the station yet" in opened
    # Filters: one box, one outcome.
    only_b = client.get("/queue?box=boxb").text
    assert re.findall(r'id="e-([^"]+)"', only_b) == [f"boxb-{world.other}"]
    unknown = client.get("/queue?status=unknown").text
    assert re.findall(r'<article class="encounter" id="e-([^"]+)"', unknown) == [
        f"boxa-{world.unknown}"
    ]


def test_an_assign_becomes_a_command_for_the_box_and_waits(
    world: DeskWorld, client: TestClient
) -> None:
    log_in(client)
    page = client.get(f"/encounter/boxa/{world.review}")
    token = csrf_of(page.text)
    done = client.post(f"/encounter/boxa/{world.review}/assign",
                       data={"csrf": token, "individual": OTIS})  # fmt: skip
    assert flashes(done.text) == [
        f"assign encounter {world.review} of boxa (kuhmo/cam02) to Otis: waiting for boxa"
    ]
    assert commands(world) == [("boxa", world.review, "assign", OTIS, "waiting")]
    assert "waiting for boxa" in done.text and "Assign to" not in done.text
    # One decision at a time: the next waits until the box answered.
    again = client.post(f"/encounter/boxa/{world.review}/confirm", data={"csrf": token})
    assert flashes(again.text) == [
        f"encounter {world.review} of boxa has a decision waiting for boxa (assign to Otis "
        f"({OTIS}), by Anna): wait until the box answers it"
    ]
    # The queue keeps it, marked.
    queue = client.get("/queue").text
    card = queue.split(f'id="e-boxa-{world.review}"')[1].split("</article>")[0]
    assert "waiting for boxa" in card
    decisions = client.get("/decisions").text
    assert f"assign to Otis ({OTIS})" in decisions and "waiting for boxa" in decisions


def test_refusals_word_for_word(world: DeskWorld, client: TestClient) -> None:
    log_in(client)
    token = csrf_of(client.get("/queue").text)

    def post(path: str, **data: str) -> list[str]:
        return flashes(client.post(path, data={"csrf": token, **data}).text)

    review = f"/encounter/boxa/{world.review}"
    assert post(f"{review}/assign", individual="Nobody") == [
        "no individual 'Nobody' in the fleet gallery: see 'bear-station individuals' (give an "
        "id such as bear-den-01-0004, or a name)"
    ]
    assert post(f"{review}/create", name="holly") == [
        f"the name 'holly' is already used by {HOLLY} in the fleet gallery: assign the "
        "encounter to it, or choose another name"
    ]
    assert post(f"{review}/reject", reason="blurry", all="1") == [
        "unknown reason 'blurry': use not_a_bear or unusable"
    ]
    assert post(f"{review}/reject", reason="unusable") == ["select the chips to reject first"]
    known = client.get(f"/encounter/boxa/{world.unknown}")
    assert known.status_code == 200
    assert post(f"/encounter/boxa/{world.unknown}/assign", individual=world.provisional) == [
        f"the encounter is already {world.provisional}: use confirm"
    ]
    missing = client.get("/encounter/boxa/nope")
    assert missing.status_code == 404
    assert ("the station has no encounter 'nope' of box 'boxa': see the queue "
            "('bear-station encounters list')") in unescape(missing.text)  # fmt: skip
    assert post("/encounter/boxa/nope/confirm") == [
        "the station has no encounter 'nope' of box 'boxa': see the queue "
        "('bear-station encounters list')"
    ]
    assert post("/decisions/not-a-decision/undo") == [
        "no desk decision 'not-a-decision': see 'bear-station encounters decisions'"
    ]
    assert commands(world) == []  # nothing refused left a command behind


def test_every_form_needs_its_csrf_token(one: tuple[DeskWorld, TestClient]) -> None:
    world, client = one
    log_in(client)
    for path in (f"/encounter/boxa/{world.review}/confirm", f"/individual/{HOLLY}/name",
                 "/individuals/create"):  # fmt: skip
        for data in ({}, {"csrf": "forged", "name": "X"}):
            response = client.post(path, data=data)
            assert (response.status_code, response.text) == (403, CSRF_REFUSED)
    assert commands(world) == []
    with world.engine.connect() as conn:
        assert get_fleet_individual(conn, HOLLY).name == "Holly"


def test_naming_merging_and_creating_individuals_go_to_the_fleet_gallery(
    world: DeskWorld, client: TestClient
) -> None:
    log_in(client)
    strangers = client.get("/strangers").text
    assert f'id="p-{world.provisional}"' in strangers
    for sha in world.shas[world.unknown]:
        assert f'src="/media/{sha}"' in strangers
    token = csrf_of(strangers)
    with world.engine.connect() as conn:
        head = len(list(conn.execute(select(fleet_feed.c.seq))))
    named = client.post(f"/individual/{world.provisional}/name",
                        data={"csrf": token, "name": "Bruno", "back": "/strangers"})  # fmt: skip
    assert flashes(named.text) == [
        f"named {world.provisional} 'Bruno'; every box hears of it through the gallery feed"
    ]
    with world.engine.connect() as conn:
        bruno = get_fleet_individual(conn, "Bruno")
        feed = list(conn.execute(select(fleet_feed).where(fleet_feed.c.seq > head)))
    assert (bruno.id, bruno.provisional) == (world.provisional, False)
    assert [f.kind for f in feed] == ["individual"] and feed[0].body["name"] == "Bruno"
    assert f'id="p-{world.provisional}"' not in client.get("/strangers").text
    taken = client.post(f"/individual/{HOLLY}/name", data={"csrf": token, "name": "bruno"})
    assert flashes(taken.text) == [
        f"the name 'bruno' is already {world.provisional}'s in the fleet gallery: choose "
        f"another name, or merge into {world.provisional} (bear-station individuals merge ID "
        f"{world.provisional})"
    ]
    created = client.post("/individuals/create", data={"csrf": token, "name": "Ursula"})
    assert flashes(created.text) == ["created bear-hq-0001 'Ursula' in the fleet gallery"]
    merged = client.post(f"/individual/{world.provisional}/merge",
                         data={"csrf": token, "into": OTIS})  # fmt: skip
    assert flashes(merged.text)[0].startswith("merged Bruno into Otis (")
    with world.engine.connect() as conn:
        assert get_fleet_individual(conn, world.provisional).merged_into == OTIS
    page = client.get(f"/individual/{OTIS}").text
    for sha in world.shas[world.unknown]:  # the stranger's chips are Otis's now
        assert f'src="/media/{sha}"' in page


def test_wrong_passwords_are_throttled(one: tuple[DeskWorld, TestClient]) -> None:
    world = one[0]
    config = world.config.model_copy(
        update={"desk": world.config.desk.model_copy(update={"login_free_attempts": 2})}
    )
    with TestClient(create_app(config, world.engine, password_hash())) as c:
        token = csrf_of(c.get("/login").text)
        first = c.post("/login", data={"csrf": token, "name": "Eve", "password": "guess"})
        assert first.status_code == 401 and "wrong password" in first.text
        second = c.post("/login", data={"csrf": token, "name": "Eve", "password": "guess"})
        assert second.status_code == 429
        assert second.text == "429 too many wrong passwords from testclient: try again in 2 s"
        right = c.post("/login", data={"csrf": token, "name": "Eve", "password": PASSWORD})
        assert right.status_code == 429  # even the right one waits


def test_the_desk_loads_nothing_from_elsewhere(one: tuple[DeskWorld, TestClient]) -> None:
    world, client = one
    log_in(client)
    for path in ("/queue", f"/encounter/boxa/{world.review}", "/strangers", "/gallery",
                 f"/individual/{HOLLY}", "/decisions"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        urls = re.findall(r'(?:src|href|action)="([^"]*)"', response.text)
        assert urls and all(u.startswith(("/", "#")) for u in urls), (path, urls)
    for sheet in ("/static/review.css", "/static/desk.css"):
        css = client.get(sheet)
        assert css.status_code == 200 and "url(" not in css.text
