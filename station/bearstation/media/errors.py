"""What the media store refuses, each with a message that says what and why.

`MediaRefused` and its subclasses are about the chip itself (its hash, size, type or
fields): sending the same chip again gives the same answer, so a receiver sets it
aside. `MediaUnavailable` is about the station's disk (full, read-only, no
permission): the same chip succeeds once that is fixed, so a receiver retries.
"""

from bearstation.errors import StationError


class MediaError(StationError):
    """Base class of the media store's errors."""


class MediaRefused(MediaError):
    """A chip the store will never take as it is (a retry gives the same answer)."""


class MediaNameInvalid(MediaRefused):
    """A SHA-256 that is not 64 hex digits (media are named by their hash only)."""


class MediaHashMismatch(MediaRefused):
    """The bytes do not hash to the SHA-256 they came with."""


class MediaTooLarge(MediaRefused):
    """More bytes than ``media.max_chip_bytes``."""


class MediaTypeRefused(MediaRefused):
    """Bytes that are not an allowed image type, or not the type they were sent as."""


class MediaConflict(MediaRefused):
    """A box chip (agent id and file) already stored with other bytes."""


class ChipUploadInvalid(MediaRefused):
    """A chip upload whose fields do not fit together (a naive time, a 2-D embedding)."""


class MediaUnavailable(MediaError):
    """The media folder cannot be written (disk full, read-only, no permission)."""


class MediaNotFound(MediaError):
    """No file for a SHA-256 in the media folder."""
