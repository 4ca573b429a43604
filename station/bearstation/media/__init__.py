"""The station's media store: chips' bytes, content-addressed, beside the database.

`store.MediaStore` keeps the files (``<root>/<sha[:2]>/<sha[2:4]>/<sha>.<ext>``,
written atomically, each once), `records.store_chip` records which box chip has
which bytes (and its embedding under the box's model) in the caller's
transaction, `config.MediaConfig` is the ``[media]`` section. Submodules are
imported directly: ``bearstation.config`` imports `config`, so this package
imports nothing at load time.
"""
