"""UniVS text prompts: the CLIP class embeddings of the training vocabularies and the RegionCLIP
text tower, loaded on first use (a VOS run never needs them).

The class-embedding file of the official release holds the rows of every training vocabulary
one after the other, in the order of ``combined_datasets_category_info``
(:data:`VOCABULARIES`: vocabulary → number of categories, first row).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from evalkit.errors import EvalkitError, WeightsError

from ..types import Categories

__all__ = ["UniVSText", "VOCABULARIES"]

#: vocabulary → (number of categories, first row) in the class-embedding file
VOCABULARIES: dict[str, tuple[int, int]] = {
    "imagenet": (1000, 0), "lvis": (1203, 1000), "burst": (1203, 1000), "ytvis21": (40, 2203),
    "ovis": (25, 2243), "bdd_track": (8, 2268), "objects365": (365, 2276), "coco_panoptic": (133, 2641),
    "coco": (80, 2641), "ade20k": (150, 2774), "vipseg": (124, 2924), "vspw": (124, 2924),
    "viposeg": (124, 2924), "ytvis19": (40, 3048), "entityseg_instance": (206, 3088),
    "entityseg_panoptic": (644, 3294),
}
# names present in only one of the two 40-class YouTube-VIS vocabularies
_YTVIS19_ONLY = {"sedan", "hand", "ape", "eagle", "owl"}
_YTVIS21_ONLY = {"flying_disc", "whale", "squirrel", "bird", "car"}


class UniVSText:
    """The text side of one UniVS model.

    Args:
        text_encoder: a RegionCLIP text tower (``encode_text``/``tokenize``), a zero-argument
            callable returning one (called on first use), or ``None``.
        class_embeddings: ``N×640`` CLIP embeddings of the training vocabularies, a
            zero-argument callable returning them, or ``None``.
        device: where the tower runs and the embeddings are returned.

    The loaded objects are cached here; assigning :attr:`text_encoder` /
    :attr:`class_embeddings` replaces them (tests, a user's own embeddings).
    """

    def __init__(self, text_encoder: Any = None, class_embeddings: torch.Tensor | Callable | None = None,
                 device: str = "cpu"):
        self._text_encoder = text_encoder
        self._class_embeddings = class_embeddings
        self.device = device

    @property
    def text_encoder(self):
        if callable(self._text_encoder) and not isinstance(self._text_encoder, torch.nn.Module):
            self._text_encoder = self._text_encoder()
        if self._text_encoder is not None:
            self._text_encoder = self._text_encoder.to(self.device).eval()
        return self._text_encoder

    @text_encoder.setter
    def text_encoder(self, value) -> None:
        self._text_encoder = value

    @property
    def class_embeddings(self) -> torch.Tensor | None:
        if callable(self._class_embeddings):
            self._class_embeddings = self._class_embeddings()
        return self._class_embeddings

    @class_embeddings.setter
    def class_embeddings(self, value) -> None:
        self._class_embeddings = value

    @staticmethod
    def vocabulary_of(categories: Categories, vocabulary: str | None = None) -> str | None:
        """The class-embedding slice for ``categories``: ``vocabulary`` (the adapter option) when
        given, else the only vocabulary of that size; the two 40-class YouTube-VIS ones are told
        apart by names; ``None`` when none fits."""
        if vocabulary is not None:
            if vocabulary not in VOCABULARIES:
                raise EvalkitError(f"unknown vocabulary {vocabulary!r}; expected one of {sorted(VOCABULARIES)}")
            return vocabulary
        n = len(categories.names)
        sizes = {VOCABULARIES[k] for k in VOCABULARIES if VOCABULARIES[k][0] == n}
        if len(sizes) == 1:
            return next(k for k in VOCABULARIES if VOCABULARIES[k] in sizes)
        if n == 40:
            names = {x.strip().lower().replace(" ", "_") for x in categories.names}
            if names & _YTVIS19_ONLY:
                return "ytvis19"
            if names & _YTVIS21_ONLY:
                return "ytvis21"
        return None

    def class_embeddings_for(self, categories: Categories, vocabulary: str | None = None) -> torch.Tensor:
        """``K×640`` CLIP embeddings of the prompt's categories (rows in prompt order): a slice
        of the class-embedding file, else the names embedded by the text tower with the
        official template ``"a photo of a {name}."``."""
        vocab = self.vocabulary_of(categories, vocabulary)
        if self.class_embeddings is not None and vocab is not None:
            n, start = VOCABULARIES[vocab]
            if start + n > len(self.class_embeddings):
                raise WeightsError(f"class-embedding file has {len(self.class_embeddings)} rows; vocabulary "
                                   f"{vocab!r} needs rows {start}..{start + n - 1}")
            return self.class_embeddings[start:start + n].to(self.device)
        if self.text_encoder is None:
            raise EvalkitError(
                f"no CLIP embeddings for these {len(categories.names)} categories: pass the option "
                f"'vocabulary' (one of {sorted(VOCABULARIES)}) or provide the RegionCLIP text encoder")
        texts = [f"a photo of a {name.replace('_', ' ')}." for name in categories.names]
        return self.text_encoder.encode_text(self.text_encoder.tokenize(texts))

    def vocabulary_rows(self, vocabulary: str) -> torch.Tensor:
        """``N×640`` rows of one training vocabulary (:data:`VOCABULARIES`) of the class-embedding
        file, in its category order; an error when the file is not available."""
        n, start = VOCABULARIES[vocabulary]
        if self.class_embeddings is None:
            raise WeightsError(f"the {vocabulary!r} class embeddings (rows {start}..{start + n - 1} of the "
                               f"class-embedding file, weight role 'class-embeddings') are not available")
        if start + n > len(self.class_embeddings):
            raise WeightsError(f"class-embedding file has {len(self.class_embeddings)} rows; vocabulary "
                               f"{vocabulary!r} needs rows {start}..{start + n - 1}")
        return self.class_embeddings[start:start + n].to(self.device)

    def encode_expression(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(words 1×77×640, sentence 1×640)`` CLIP features of an expression, as officially
        (``TextPromptEncoder.get_expression_prompt``): the expression is put into each of the 81
        prompt templates (:data:`~.univs_templates.EXPRESSION_TEMPLATES`, one batched pass of
        the text tower); the sentence feature is the mean of the 81 end-of-text features, the
        word features are those of the first template, ``"<expression>."``."""
        from .univs_templates import EXPRESSION_TEMPLATES

        if self.text_encoder is None:
            raise EvalkitError("referring segmentation needs the RegionCLIP text encoder "
                               "(weight file with role 'text-encoder')")
        # str.replace, not format: an expression may contain braces
        texts = [t.replace("{}", text) for t in EXPRESSION_TEMPLATES]
        words, sentences = self.text_encoder.encode_text(self.text_encoder.tokenize(texts), only_eot=False)
        return words[:1], sentences.mean(0, keepdim=True)
