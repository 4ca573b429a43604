"""The review page's edge: every page and image behind the login, CSRF on every form,
files only from below the allowed roots, throttled logins, and the cookie's flags. In
process (Starlette's TestClient) and over real HTTP (uvicorn, raw requests that no
client library tidies up first). Each refusal is checked word for word."""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bearagent.review.web.app import ROUTES
from bearagent.store import open_database
from support.certs import make_tls_files
from support.review_app import PASSWORD, csrf_of, log_in, make_app, served
from support.review_world import ReviewWorld, build, copy_database

LOGIN_REQUIRED = "401 log in first: the review page needs a session"
CSRF_REFUSED = "403 refused: the form's CSRF token is missing or wrong; reload the page"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    return build(tmp_path_factory.mktemp("review-security"))


def config(built: ReviewWorld, tmp_path: Path, **review: Any) -> Any:
    database = copy_database(built.database, tmp_path / "copy.db")
    return built.config(database, review=review)


@pytest.fixture
def client(built: ReviewWorld, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(config(built, tmp_path))) as c:
        yield c


def sample_paths(built: ReviewWorld) -> list[tuple[str, str]]:
    """(method, path) of every route, its parameters filled in."""
    db = open_database(built.database)
    sighting = db.execute("SELECT min(id) FROM sightings").fetchone()[0]
    reference = db.execute("SELECT min(id) FROM reference_embeddings").fetchone()[0]
    values = {
        "encounter_id": built.review, "individual_id": built.provisional, "action_id": "1",
        "sighting_id": str(sighting), "reference_id": str(reference), "root": "0",
        "path": "north/cam02/x.jpg",
    }  # fmt: skip
    out = []
    for route in ROUTES:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], route.path)
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def test_every_page_image_and_form_is_refused_without_a_session(
    built: ReviewWorld, client: TestClient
) -> None:
    checked = 0
    for method, path in sample_paths(built):
        if path == "/login":
            continue
        response = client.request(method, path, follow_redirects=False)
        checked += 1
        if method == "GET" and not path.startswith(("/image", "/chip", "/file")):
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=%2F")
        else:
            assert (response.status_code, response.text) == (401, LOGIN_REQUIRED), (method, path)
    assert checked >= 20
    # The stylesheet is public (it is the same on every box); nothing else is.
    assert client.get("/static/review.css").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(built: ReviewWorld, client: TestClient) -> None:
    log_in(client)
    for data in ({}, {"csrf": "forged"}):
        response = client.post(f"/encounter/{built.review}/confirm", data=data)
        assert (response.status_code, response.text) == (403, CSRF_REFUSED)
    response = client.post("/login", data={"name": "x", "password": PASSWORD})
    assert (response.status_code, response.text) == (403, CSRF_REFUSED)
    db = open_database(Path(client.app.state.review.database))  # type: ignore[attr-defined]
    assert db.execute("SELECT count(*) FROM review_actions").fetchone()[0] == 0
    token = csrf_of(client.get("/queue").text)
    done = client.post(f"/encounter/{built.review}/confirm", data={"csrf": token})
    assert done.status_code == 200 and "confirmed encounter" in done.text


def test_the_session_cookie_is_signed_httponly_and_strict(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD},
                           follow_redirects=False)  # fmt: skip
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("bearid_review=")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags and "secure" not in flags
    # A tampered cookie is no session.
    value = cookie.split(";")[0].split("=", 1)[1]
    client.cookies.clear()
    client.cookies.set("bearid_review", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_pages_carry_the_security_headers(client: TestClient) -> None:
    log_in(client)
    headers = client.get("/queue").headers
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_login_never_sends_anyone_to_another_site(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil"):
        response = client.post(
            "/login",
            data={"csrf": token, "name": "Anna", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/queue"
        token = csrf_of(client.get("/login").text)


def test_paths_outside_the_roots_are_refused(
    built: ReviewWorld, client: TestClient, tmp_path: Path
) -> None:
    log_in(client)
    traps = built.world.traps
    outside = tmp_path / "outside.jpg"
    outside.write_bytes((next(traps.rglob("*.jpg"))).read_bytes())
    link = traps / "north" / "evil.jpg"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    folder_link = traps / "north" / "elsewhere"
    if not folder_link.exists():
        folder_link.symlink_to(tmp_path, target_is_directory=True)
    real = next(p for p in traps.rglob("*.jpg") if not p.is_symlink()).relative_to(traps)
    assert client.get(f"/file/0/{real.as_posix()}").headers["content-type"] == "image/jpeg"
    refusals = {
        "/file/0/%2e%2e/%2e%2e/etc/passwd": "403 refused: a path with '..' or an empty part",
        "/file/0//etc/passwd": "403 refused: an absolute path",
        "/file/0/%2Fetc%2Fpasswd": "403 refused: an absolute path",
        "/file/0/north/evil.jpg": "403 refused: the path leads outside the allowed folders",
        "/file/0/north/elsewhere/outside.jpg":
            "403 refused: the path leads outside the allowed folders",
        "/file/0/north/x%5C..%5Cy.jpg": "403 refused: a path with a backslash or NUL",
        "/file/0/north/missing.jpg": "404 not found: no such image below the allowed folders",
        "/file/7/north/a.jpg": "404 no watch root number 7",
    }  # fmt: skip
    for path, text in refusals.items():
        response = client.get(path)
        assert (response.status_code, response.text) == (int(text[:3]), text), path
    sidecar = traps / "north" / "note.json"
    sidecar.write_text("{}")
    response = client.get("/file/0/north/note.json")
    assert (response.status_code, response.text) == (403, "403 refused: not an image file")


def test_raw_http_dot_dot_and_absolute_paths_are_refused(
    built: ReviewWorld, tmp_path: Path
) -> None:
    """Browsers and httpx tidy `..` away before sending; a hostile client does not."""
    cfg = config(built, tmp_path)
    with served(make_app(cfg), cfg) as base, httpx.Client(base_url=base) as c:
        token = csrf_of(c.get("/login").text)
        c.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD})
        cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
        port = int(base.rsplit(":", 1)[1])
        for path, text in {
            "/file/0/../../../../etc/passwd": "403 refused: a path with '..' or an empty part",
            "/file/0/north/../../x.jpg": "403 refused: a path with '..' or an empty part",
            "/file/0//etc/passwd": "403 refused: an absolute path",
        }.items():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            assert (response.status, response.read().decode()) == (int(text[:3]), text), path
            conn.close()
        # Without the session the same requests are refused before any path is looked at.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/file/0/../../../../etc/passwd")
        response = conn.getresponse()
        assert (response.status, response.read().decode()) == (401, LOGIN_REQUIRED)
        # The public stylesheets' folder leads nowhere else either.
        for path in ("/static/../web/app.py", "/static/%2e%2e/web/app.py"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 404 and b"create_app" not in response.read(), path


def test_reference_images_come_only_from_allowed_roots(built: ReviewWorld, tmp_path: Path) -> None:
    cfg = config(built, tmp_path)
    db = open_database(cfg.agent.database_path)
    ref_id, source = db.execute(
        "SELECT id, source FROM reference_embeddings WHERE source LIKE '/%' LIMIT 1"
    ).fetchone()
    db.execute("DELETE FROM thumbnails WHERE kind = 'reference' AND owner_id = ?", [ref_id])
    db.conn.commit()
    with TestClient(make_app(cfg)) as c:
        log_in(c)
        response = c.get(f"/image/reference/{ref_id}")
        assert (response.status_code, response.text) == (
            403, "403 refused: the path leads outside the allowed folders"
        )  # fmt: skip
    enrolled = Path(source).parent.parent
    allowed = built.config(cfg.agent.database_path, review={"image_roots": [str(enrolled)]})
    with TestClient(make_app(allowed)) as c:
        log_in(c)
        response = c.get(f"/image/reference/{ref_id}")
        assert response.status_code == 200 and response.content == Path(source).read_bytes()


def test_wrong_passwords_are_throttled_per_address(built: ReviewWorld, tmp_path: Path) -> None:
    cfg = config(built, tmp_path, login_free_attempts=3, login_backoff_s=1.0,
                 forwarded_allow_ips=["127.0.0.1"])  # fmt: skip
    app = make_app(cfg)
    with served(app, cfg) as base:

        def attempt(password: str, address: str) -> httpx.Response:
            with httpx.Client(base_url=base, headers={"X-Forwarded-For": address}) as c:
                token = csrf_of(c.get("/login").text)
                return c.post("/login", data={"csrf": token, "name": "Eve",
                                              "password": password})  # fmt: skip

        for _ in range(2):
            response = attempt("guess", "203.0.113.7")
            assert response.status_code == 401 and "wrong password" in response.text
        third = attempt("guess", "203.0.113.7")  # the last free one starts the wait
        assert third.status_code == 429
        assert third.text == "429 too many wrong passwords from 203.0.113.7: try again in 1 s"
        assert third.headers["retry-after"] == "1"
        # While it waits, even the right password is refused; another address is not.
        assert attempt(PASSWORD, "203.0.113.7").status_code == 429
        assert attempt(PASSWORD, "198.51.100.2").status_code == 303  # logged in
        time.sleep(1.1)
        fourth = attempt("guess", "203.0.113.7")  # the waits double
        assert (fourth.status_code, fourth.headers["retry-after"]) == (429, "2")
        time.sleep(2.1)
        assert attempt(PASSWORD, "203.0.113.7").status_code == 303


def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    built: ReviewWorld, tmp_path: Path
) -> None:
    cfg = config(built, tmp_path, login_free_attempts=1, login_backoff_s=30.0)
    with served(make_app(cfg), cfg) as base:  # no trusted proxy: X-Forwarded-For is ignored
        for forged in ("10.0.0.1", "10.0.0.2"):
            with httpx.Client(base_url=base, headers={"X-Forwarded-For": forged}) as c:
                token = csrf_of(c.get("/login").text)
                response = c.post("/login", data={"csrf": token, "password": "guess"})
        assert response.status_code == 429
        assert response.text.startswith("429 too many wrong passwords from 127.0.0.1:")


def test_a_session_ends_when_it_expires_or_the_password_changes(
    built: ReviewWorld, tmp_path: Path
) -> None:
    cfg = config(built, tmp_path, session_hours=1.5 / 3600)
    with TestClient(make_app(cfg)) as c:
        log_in(c)
        assert c.get("/queue", follow_redirects=False).status_code == 200
        time.sleep(1.7)
        assert c.get("/queue", follow_redirects=False).status_code == 303
    other = make_app(config(built, tmp_path / "b"))
    with TestClient(other) as c:
        log_in(c)
        other.state.review.password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$changed"
        assert c.get("/queue", follow_redirects=False).status_code == 303


def test_https_directly_marks_the_cookie_secure(built: ReviewWorld, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    cfg = config(built, tmp_path, tls_cert=str(tls.server_cert), tls_key=str(tls.server_key))
    app = make_app(cfg)
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    with served(app, cfg) as base, httpx.Client(base_url=base, verify=context) as c:
        assert base.startswith("https://")
        token = csrf_of(c.get("/login").text)
        response = c.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD},
                          follow_redirects=False)  # fmt: skip
        assert "secure" in response.headers["set-cookie"].lower().split("; ")
        assert c.get("/queue").status_code == 200


def test_the_page_loads_nothing_from_elsewhere(built: ReviewWorld, client: TestClient) -> None:
    log_in(client)
    for path in ("/queue", f"/encounter/{built.review}", "/gallery", "/audit", "/provisional",
                 f"/individual/{built.provisional}", "/login"):  # fmt: skip
        html = client.get(path).text
        urls = re.findall(r'(?:src|href|action)="([^"]*)"', html)
        assert urls and all(u.startswith(("/", "#")) for u in urls), (path, urls)
    css = client.get("/static/review.css").text
    assert "url(" not in css and "@import" not in css
