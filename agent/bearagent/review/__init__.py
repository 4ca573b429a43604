"""The review page on the field box: a person confirms, corrects or names the bears the
agent was unsure of (`bearagent review`).

Layers: `config` (the ``[review]`` section), `schema` (the audit tables), `queries`
(every read the pages make), `actions` (every change, one SQLite transaction each,
with its audit row and ``correction`` event, and undo), `web` (the Starlette
application: login, CSRF, throttling, safe file serving, pages). Importing this
package needs no web framework; `bearagent.review.web` needs the ``review`` extra.
"""
