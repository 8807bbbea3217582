"""Safe readers of the official checkpoints and one weight mapping per method.

Nothing is imported here: each registry imports its provider packages itself (:mod:`ppinpaint.registry`).
"""
