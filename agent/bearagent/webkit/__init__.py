"""What the two review apps share: the field box's review page (`bearagent.review`) and the
station's review desk (`bearstation.desk`).

Modules that need no web framework: `listen` (``HOST:PORT``, TLS and plain-HTTP rules),
`passwords` (the argon2 password file), `throttle` (login throttling), `files` (paths
checked against the allowed roots before anything is opened), `errors`. Modules that need
the ``review`` extra (Starlette, Jinja2, uvicorn): `site` (what an app holds: templates,
password, throttle, login gate), `auth` (the one login check in front of every route),
`csrf`, `headers`, `render`, `login` (the login and logout forms), `images`, `app` (an
application with all of it in place) and `server` (uvicorn with TLS and trusted proxies).
Base templates (``layout.html``, ``login.html``, ``missing.html``, ``kit.html``) and the
stylesheet live in ``templates/`` and ``static/``; each app adds its own templates.
"""
