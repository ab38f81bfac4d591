"""Seeing what a model did: prediction overlays (``evalkit show``), the run gallery
(``evalkit report RUN --gallery``) and the TIDE error analysis (``evalkit tide RUN``).

Modules: :mod:`.draw` (drawing on a frame), :mod:`.gt` (per-sample ground truth), :mod:`.render`
(a run's samples to pictures), :mod:`.video` (PNG / WebP / MP4 / frame strip), :mod:`.breakdown`
(per-sample scores), :mod:`.gallery` (the HTML page), :mod:`.tide_report` (TIDE of a run).
"""
