"""Matching: cosine k-NN over the gallery's references (the decision is `bearagent.decisions`)."""

from bearagent.matching.index import GalleryIndex
from bearagent.matching.knn import Candidate, top_k_individuals
from bearagent.matching.knn_index import KnnIndex

__all__ = [
    "Candidate",
    "GalleryIndex",
    "KnnIndex",
    "top_k_individuals",
]
