"""Labelled chips on disk: indexing, capture times, encounters, and split files."""
