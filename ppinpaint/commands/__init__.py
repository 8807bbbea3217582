"""The command line: one module per command, each with ``main(argv) -> exit code``; the only argparse."""
from ..utils.quiet import quiet_paddle

quiet_paddle()  # every command, tools/*.py and deploy/infer.py import this package before Paddle
