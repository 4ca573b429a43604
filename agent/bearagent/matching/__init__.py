"""Matching: cosine k-NN over the gallery's references and the known/unknown decision."""

from bearagent.matching.decision import Decision, decide, threshold_for
from bearagent.matching.index import GalleryIndex
from bearagent.matching.knn import Candidate, top_k_individuals
from bearagent.matching.knn_index import KnnIndex

__all__ = [
    "Candidate",
    "Decision",
    "GalleryIndex",
    "KnnIndex",
    "decide",
    "threshold_for",
    "top_k_individuals",
]
