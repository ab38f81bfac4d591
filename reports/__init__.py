"""evalkit.reports: paper-style leaderboards from run directories, beside the published numbers.

``evalkit report RUN_OR_DIR... [--format md|latex|html|csv|model-index] [--paper] [--out FILE]``
(:mod:`.cli`) finds run directories (any folder holding ``metrics.json``), keeps one run per
(model, weights sha256, benchmark) and renders one table per task family with the papers'
multi-level headers. Pieces:

- :mod:`evalkit.metrics.keys` is the one table of metric keys (``evalkit/metrics/keys.csv``:
  each metric's keys, canonical names, the papers' labels, direction, scale, headline ranks),
  shared with the run summary (:mod:`.summary`);
- :mod:`.rundirs` reads runs and converts values to the papers' scale once (scores → percent
  points; counts such as IDSw never rescaled), by the key table's rows;
- :mod:`.paper` loads the published numbers (package data built by :mod:`.paper_build`) and
  answers lookups by our ids or the printed names;
- :mod:`.mapping` maps our benchmark ids / metric keys / model ids to the papers' names
  (package data, overridden by the benchmark registry's ``paper`` metadata);
- :mod:`.table` builds the format-independent tables: Δ = ours − paper, flagged when
  |Δ| > 0.5 points (``--tolerance``; counts: 5 % relative, ``--count-tolerance``), best in bold,
  second best underlined, footnotes for server-pending, unscored and partial (``--limit``) runs;
- renderers :mod:`.render_text` (Markdown, CSV), :mod:`.render_latex` (booktabs),
  :mod:`.render_html` (self-contained, sortable), :mod:`.model_index` (Hugging Face
  ``model-index`` YAML) and :mod:`.radar` (task-level radar chart, PNG, SVG and PDF).
"""
