"""`GalleryIndex`: a `KnnIndex` kept in step with the gallery in SQLite.

It watches the gallery's state tokens (`bearagent.gallery.schema`), which any
process changing the gallery renews, so the running agent sees enrolments made
with `bearagent gallery` without a restart. When only rows were added it loads
just those; after a rename, removal, promotion or re-embedding, everything.
"""

from __future__ import annotations

import logging

import numpy as np
import sqlite_utils

from bearagent.gallery import ReferenceSet, check_gallery_model, load_references
from bearagent.gallery.schema import gallery_state
from bearagent.matching.knn import Candidate
from bearagent.matching.knn_index import KnnIndex

log = logging.getLogger(__name__)


class GalleryIndex:
    """The gallery's references in memory, reloaded (fully or in part) when it changes.

    Refuses (`GalleryModelMismatch`) a gallery whose references came from another
    model than `model_sha256`. Use it from the thread that opened `db`.
    `blas_threads`: see `KnnIndex`.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        model_sha256: str,
        model_name: str = "",
        *,
        blas_threads: int | None = 1,
    ) -> None:
        self._db, self._sha, self._model_name = db, model_sha256, model_name
        self._blas_threads = blas_threads
        self._index = KnnIndex(np.zeros((0, 1), np.float32), [], blas_threads=blas_threads)
        self._state: tuple[int, int] | None = None
        self._last_id = 0
        # Rows read inside an open transaction may be rolled back: never build on them.
        self._tentative = False
        self.refresh()

    @property
    def index(self) -> KnnIndex:
        """The current in-memory index."""
        return self._index

    def refresh(self) -> bool:
        """Load what changed in the gallery since the last load; True when anything did."""
        state = gallery_state(self._db)
        if state == self._state:
            return False
        partial = self._state is not None and state[1] == self._state[1] and not self._tentative
        check_gallery_model(self._db, self._sha, self._model_name)
        if not partial:
            # Let go of the old matrix first: two full copies at once is the peak memory.
            self._index = KnnIndex(
                np.zeros((0, 1), np.float32), [], blas_threads=self._blas_threads
            )
        refs = load_references(self._db, self._last_id if partial else 0)
        if partial:
            self._append(refs)
        else:
            self._index = KnnIndex.from_references(refs, blas_threads=self._blas_threads)
        self._state, self._last_id = (refs.generation, refs.layout), refs.last_id
        self._tentative = self._db.conn.in_transaction
        log.info(
            "gallery %s: %d references of %d individuals",
            "updated" if partial else "loaded",
            self._index.size,
            self._index.individuals,
        )
        return True

    def _append(self, refs: ReferenceSet) -> None:
        counts = np.diff(refs.starts, append=refs.matrix.shape[0])
        owners = [id_ for id_, n in zip(refs.ids, counts, strict=True) for _ in range(int(n))]
        self._index.add(
            refs.matrix,
            owners,
            names=dict(zip(refs.ids, refs.names, strict=True)),
            kinds=dict(zip(refs.ids, refs.kinds, strict=True)),
        )

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Candidate]]:
        """Refresh if the gallery changed, then search (see `KnnIndex.search`)."""
        self.refresh()
        return self._index.search(queries, k)
