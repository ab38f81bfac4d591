"""The word-piece tokenizer built from a vocab.txt file knows its words (no silent [UNK])."""
from evalkit.adapters._card_adapter import bert_tokenizer


def test_vocab_file_tokenizer_maps_known_words(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "circle", "left", "of"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    tok = bert_tokenizer(None, str(path))
    ids = tok("Red circle left of")["input_ids"]
    assert ids == [2, 5, 6, 7, 8, 3]
