"""The station's review desk (`bear-station review`): one review page for the whole fleet.

Layers, as on the box's page: `config` (the ``[desk]`` section), `queries` (every read
the pages make: the queue of every box's encounters in review and its new strangers,
with their chips from the media store beside the candidates' reference chips),
`commands` (the ``desk_commands`` table: a decision about a box's encounter, waiting
for that box's ``correction``), `actions` (every change, the library the pages and
the ``bear-station`` commands call), `tick` (sends waiting decisions to their boxes,
again until answered), `web` (the Starlette application on the shared edge,
`bearagent.webkit`). Importing this package needs no web framework.
"""
