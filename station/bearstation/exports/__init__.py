"""Exports: pure functions from the station's database to files, one module per format."""
