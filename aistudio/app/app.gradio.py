"""AIStudio / Hugging Face Spaces entry of the ppinpaint demo: ``demo`` is the Gradio app.

The platform runs this file (or ``python app.gradio.py`` does): models come from ``models.yml`` beside
it when present (a list of ``{config, weights, name}``, as ``ppinpaint demo --models``), else every
method's quickstart config at random initialisation, which the page says.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# ppinpaint copied beside this file (an uploaded app folder), or the checkout this file sits in.
for root in (HERE, os.path.dirname(os.path.dirname(HERE))):
    if os.path.isfile(os.path.join(root, "ppinpaint", "__init__.py")):
        sys.path.insert(0, root)
        break

from ppinpaint.demo.app import build_app  # noqa: E402
from ppinpaint.demo.bank import ModelBank, quickstart_specs, read_model_list  # noqa: E402

MODELS = os.path.join(HERE, "models.yml")
bank = ModelBank(read_model_list(MODELS) if os.path.isfile(MODELS) else quickstart_specs())
demo = build_app(bank)
demo.queue(default_concurrency_limit=1)

if __name__ == "__main__":
    # Host and port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, which the platform sets.
    demo.launch()
