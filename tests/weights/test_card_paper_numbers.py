"""The packaged table of published results (``reports/data/paper_results.csv``, rebuilt from
the papers' extraction by :mod:`evalkit.reports.paper_build`) is the one source of the papers'
numbers: every number a model card quotes must be a cell of that table attributed to the same
model. Runs without the extraction being present."""
from __future__ import annotations

from evalkit.reports.paper import load_paper_results
from evalkit.zoo.cards import list_cards


def test_every_card_number_is_a_packaged_cell_of_the_same_model():
    df = load_paper_results()
    cells: dict[tuple, set[float]] = {}
    for r in df.itertuples():
        key = (r.model_id, r.table, r.paper_benchmark, r.paper_split, r.paper_metric, r.notes)
        cells.setdefault(key, set()).add(float(r.value))
    checked = 0
    for card in list_cards():
        for r in card.paper_results:
            key = (card.id, r.table, r.benchmark, r.split, r.metric, r.notes)
            assert key in cells, f"{card.id}: {key[1:]} is not a cell of paper_results.csv for {card.id}"
            assert r.value in cells[key], f"{card.id}: {key[1:]} is {r.value}, the table says {sorted(cells[key])}"
            assert float(r.printed) == r.value, f"{card.id}: {key[1:]} printed {r.printed!r} but value {r.value}"
            checked += 1
    assert checked > 400  # the released models quote their tables
