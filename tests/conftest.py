"""Test-wide setup: tests/ on sys.path (for recipe.py), one intra-op thread for reproducible sums."""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
