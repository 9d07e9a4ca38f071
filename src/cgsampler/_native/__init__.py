"""Cython core: parsers (one per kernel file format) and the sweep engine."""
