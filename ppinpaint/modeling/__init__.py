"""Layers, generators, discriminators, losses and the method objects.

Nothing is imported here: each registry imports its provider packages itself (:mod:`ppinpaint.registry`).
"""
