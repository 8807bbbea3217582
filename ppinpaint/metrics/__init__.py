"""Pixel metrics, FID and LPIPS.

Nothing is imported here: each registry imports its provider packages itself (:mod:`ppinpaint.registry`).
"""
