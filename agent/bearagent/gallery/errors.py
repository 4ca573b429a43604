"""The gallery's user-facing errors; each message says what went wrong and what to do."""

from bearagent.errors import BearIdError


class GalleryError(BearIdError):
    """Base class for every gallery problem."""


class UnknownIndividual(GalleryError):
    """No individual has the given id or name."""


class DuplicateName(GalleryError):
    """Another individual already has this name."""


class InvalidName(GalleryError):
    """A name that cannot be used (empty, too long, or looking like an id)."""


class NotProvisional(GalleryError):
    """`promote` was given an individual that is already a named one."""


class GalleryModelMismatch(GalleryError):
    """The gallery's embeddings were made with another model than the one in use."""


class EmbeddingSizeMismatch(GalleryError):
    """Embeddings of the wrong size for the gallery or the model."""


class MissingReferenceImages(GalleryError):
    """`reembed` cannot read some reference images again."""


class GalleryFileInvalid(GalleryError):
    """A gallery export file that cannot be imported."""
