"""``ppinpaint demo``: a Gradio app to brush a hole, inpaint, paste an object and harmonize it.

It stands on the prediction floor (``predict``, ``highres``, ``inference``, ``api``); nothing in the
library imports it. Gradio is an optional extra (``pip install 'ppinpaint[demo]'``) imported only by
:mod:`ppinpaint.demo.app`.
"""
