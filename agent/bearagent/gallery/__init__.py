"""The gallery: individuals, their reference embeddings, provisional unknowns and sightings.

SQLite through sqlite-utils (`open_gallery`); every function takes the thread's
database. Functions that change it join the caller's transaction when one is
open (so the agent can write a sighting, a new provisional individual and its
outbox row together) and otherwise commit on their own.
"""

from bearagent.gallery.enroll import EnrollReport, enroll_folder
from bearagent.gallery.errors import (
    DuplicateName,
    EmbeddingSizeMismatch,
    GalleryError,
    GalleryFileInvalid,
    GalleryModelMismatch,
    InvalidName,
    MissingReferenceImages,
    NotProvisional,
    UnknownIndividual,
)
from bearagent.gallery.importing import ImportReport, import_gallery
from bearagent.gallery.individuals import (
    Individual,
    create_known,
    find_by_name,
    get_individual,
    list_individuals,
    promote,
    remove,
    rename,
)
from bearagent.gallery.portable import FORMAT_VERSION, ExportReport, export_gallery, read_portable
from bearagent.gallery.reembed import ReembedReport, reembed
from bearagent.gallery.references import (
    ReferenceSet,
    add_references,
    check_gallery_model,
    create_provisional,
    gallery_models,
    load_references,
)
from bearagent.gallery.schema import STEPS, ensure_schema, generation, open_gallery
from bearagent.gallery.sightings import Sighting, record_sighting, sightings_of

__all__ = [
    "FORMAT_VERSION",
    "STEPS",
    "DuplicateName",
    "EmbeddingSizeMismatch",
    "EnrollReport",
    "ExportReport",
    "GalleryError",
    "GalleryFileInvalid",
    "GalleryModelMismatch",
    "ImportReport",
    "Individual",
    "InvalidName",
    "MissingReferenceImages",
    "NotProvisional",
    "ReembedReport",
    "ReferenceSet",
    "Sighting",
    "UnknownIndividual",
    "add_references",
    "check_gallery_model",
    "create_known",
    "create_provisional",
    "enroll_folder",
    "ensure_schema",
    "export_gallery",
    "find_by_name",
    "gallery_models",
    "generation",
    "get_individual",
    "import_gallery",
    "list_individuals",
    "load_references",
    "open_gallery",
    "promote",
    "read_portable",
    "record_sighting",
    "reembed",
    "remove",
    "rename",
    "sightings_of",
]
