"""Datasets, mask generators, the image input rules, listing and pairing, synthetic data.

Nothing is imported here: each registry imports its provider packages itself (:mod:`ppinpaint.registry`).
"""
