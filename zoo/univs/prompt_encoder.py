"""The prompt encoder of UniVS (paper §3.1): prompts → prompt queries and prompt tokens.

* **Visual prompts** (VOS, PVOS, and the entities UniVS re-segments while streaming): the
  :class:`VisualPromptSampler` has no weights. It reads the stride-8 image features and their 3-D
  position codes at ``num_dense_points`` positions inside the target's mask on the frame where
  the mask is known; the sampled features are the target's prompt tokens for that frame.
* **Text prompts**: CLIP RN50x4 text embeddings (640-d) of category names (VIS/VSS/VPS) or of an
  expression (sentence token + 77 word tokens, R-VOS) are normalised (``text_norm``), projected
  to the decoder width (``text2vis_projection``) and enriched by a cross-attention to the image
  features of each frame (``lang2vision``).

Every prompt query starts as the mean of its prompt tokens plus a learnt task embedding
(``task_sot`` for visual prompts, ``task_detection`` for categories, ``task_grounding`` for
expressions).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .mask_decoder import AttentionLayer, PromptQueries

__all__ = ["PromptEncoder", "VisualPromptSampler", "VisualPromptTokens"]


class VisualPromptTokens(tuple):
    """``(feats, pos, valid)`` for ``K`` targets on one frame: ``K×R×C``, ``K×R×C``, ``K`` bool
    (False where the mask is empty on that frame; its tokens are then zero)."""

    @property
    def feats(self) -> torch.Tensor:
        return self[0]

    @property
    def pos(self) -> torch.Tensor:
        return self[1]

    @property
    def valid(self) -> torch.Tensor:
        return self[2]


#: how the ``R`` cells are chosen among a mask's cells when it has at least ``R``
CELL_SAMPLING = ("evenly-spaced", "random")


class VisualPromptSampler:
    """Dense point sampling of visual prompts (no parameters), official
    ``VisualPromptEncoder.get_mask_prompt`` / ``get_dense_features`` at test time.

    Args:
        num_points: tokens per target and frame (``R``; ``VISUAL_PROMPT_PIXELS_PER_IMAGE``).
        threshold: ``mask_thresh`` 0.5 of the official code.
        cell_sampling: ``"evenly-spaced"`` (default): ``R`` cells spread evenly over the mask's
            cells in raster order, so runs are deterministic; ``"random"``: ``R`` distinct cells
            drawn with ``torch.randperm`` from the global generator, as the official sampler.
            The two differ only for masks of at least ``R`` cells.
    """

    def __init__(self, num_points: int = 32, threshold: float = 0.5, cell_sampling: str = "evenly-spaced"):
        if cell_sampling not in CELL_SAMPLING:
            raise ValueError(f"cell_sampling must be one of {CELL_SAMPLING}, got {cell_sampling!r}")
        self.num_points = num_points
        self.threshold = threshold
        self.cell_sampling = cell_sampling

    def __call__(self, feats: torch.Tensor, pos: torch.Tensor, masks: torch.Tensor, *,
                 num_points: int | None = None, cell_sampling: str | None = None) -> VisualPromptTokens:
        """Sample prompt tokens (``num_points`` / ``cell_sampling``: this call's, else the
        sampler's own).

        Args:
            feats: ``C×h×w`` stride-8 features of the frame (after the pixel decoder).
            pos: ``C×h×w`` their position codes.
            masks: ``K×H×W`` float in ``[0, 1]`` on the padded input canvas (``H = 8h``,
                ``W = 8w``; resized to ``h×w`` with nearest neighbour, as officially).

        Official rules kept: a target is valid when its canvas mask has a pixel ``> 0.5``
        (else its tokens are zero); the cells are those ``>= min(0.5, max)`` of the resized
        mask (all cells when no canvas pixel survived the resize); a mask with fewer than ``R``
        cells repeats them cyclically (``feat_idx.repeat(R // n + 1)[:R]``).
        """
        k = masks.shape[0]
        c, h, w = feats.shape
        r = num_points or self.num_points
        sampling = cell_sampling or self.cell_sampling
        if sampling not in CELL_SAMPLING:
            raise ValueError(f"cell_sampling must be one of {CELL_SAMPLING}, got {sampling!r}")
        if k == 0:
            z = feats.new_zeros(0, r, c)
            return VisualPromptTokens((z, z.clone(), torch.zeros(0, dtype=torch.bool, device=feats.device)))
        valid = (masks > self.threshold).flatten(1).any(1)
        small = F.interpolate(masks[:, None].float(), size=(h, w), mode="nearest")[:, 0].flatten(1)
        thr = small.max(1, keepdim=True).values.clamp(max=self.threshold)
        binary = small >= thr
        f, p = feats.flatten(1).t(), pos.flatten(1).t()  # hw×C
        idx = torch.zeros(k, r, dtype=torch.long, device=feats.device)
        for i in range(k):
            cells = binary[i].nonzero()[:, 0]
            n = len(cells)
            if n < r:
                idx[i] = cells.repeat(r // n + 1)[:r]
            elif sampling == "random":
                idx[i] = cells[torch.randperm(n)[:r].to(cells.device)]
            else:
                idx[i] = cells[torch.linspace(0, n - 1, r, device=feats.device).round().long()]
        keep = valid[:, None, None].to(feats.dtype)
        return VisualPromptTokens((f[idx] * keep, p[idx] * keep, valid))


class PromptEncoder(nn.Module):
    """Text-prompt projections, language-to-image attention and task embeddings.

    Args:
        hidden_dim: decoder width (256); text_dim: CLIP width (640); nheads: 8;
        lang2vision: build the language-to-image cross-attention.
    """

    def __init__(self, hidden_dim: int = 256, text_dim: int = 640, nheads: int = 8, lang2vision: bool = True):
        super().__init__()
        self.text_norm = nn.LayerNorm(text_dim)
        self.text2vis_projection = nn.Linear(text_dim, hidden_dim)
        self.lang2vision = AttentionLayer(hidden_dim, nheads) if lang2vision else None
        self.task_detection = nn.Parameter(torch.zeros(hidden_dim))
        self.task_sot = nn.Parameter(torch.zeros(hidden_dim))
        self.task_grounding = nn.Parameter(torch.zeros(hidden_dim))
        for p in (self.task_detection, self.task_sot, self.task_grounding):
            nn.init.normal_(p)

    def _text_to_image(self, tokens: torch.Tensor, src: list[torch.Tensor]) -> torch.Tensor:
        """``tokens`` ``N×T×C`` attend, per frame, to the image tokens of all levels."""
        if self.lang2vision is None:
            return tokens
        return self.lang2vision(tokens, torch.cat(src))

    def categories(self, class_embeddings: torch.Tensor, src: list[torch.Tensor]) -> PromptQueries:
        """One prompt query per category.

        Args:
            class_embeddings: ``K×640`` CLIP text embeddings of the category names.
            src: image tokens per level, ``H_lW_l×T×C``.
        """
        t = src[0].shape[1]
        x = self.text2vis_projection(self.text_norm(class_embeddings.to(src[0])))[:, None].expand(-1, t, -1)
        x = self._text_to_image(x.contiguous(), src)
        return PromptQueries(content=x + self.task_detection, pos=x, tokens=x[:, None], tokens_pos=None,
                             kind="categories")

    def expressions(self, word_embeddings: torch.Tensor, sentence_embeddings: torch.Tensor,
                    src: list[torch.Tensor]) -> PromptQueries:
        """One prompt query per expression.

        Args:
            word_embeddings: ``E×L×640`` per-token CLIP features (L = 77).
            sentence_embeddings: ``E×640`` end-of-text (sentence) features.
            src: image tokens per level, ``H_lW_l×T×C``.
        """
        t = src[0].shape[1]
        e, n = word_embeddings.shape[:2]
        x = torch.cat([sentence_embeddings[:, None], word_embeddings], 1).to(src[0])  # E×(1+L)×640
        x = self.text2vis_projection(self.text_norm(x)).flatten(0, 1)[:, None].expand(-1, t, -1)
        x = self._text_to_image(x.contiguous(), src).view(e, n + 1, t, -1)
        sentence = x[:, 0]
        return PromptQueries(content=sentence + self.task_grounding, pos=sentence, tokens=x, tokens_pos=None,
                             kind="expression")

    def visual_memory(self, tokens: torch.Tensor, tokens_pos: torch.Tensor, content: torch.Tensor,
                      content_pos: torch.Tensor) -> PromptQueries:
        """Prompt queries of ``K`` targets from their memory pools, as the official streaming
        inference builds them (``forward_prompt_encoder`` with ``prompt_feats`` in the targets).

        Args:
            tokens, tokens_pos: ``K×L×C`` pool tokens (blank slots are zeros and stay zeros:
                officially they reach ProCA as they are), shared by every frame.
            content, content_pos: ``K×T×C`` per-frame means of each frame's slot.
        """
        t = content.shape[1]
        rep = lambda x: x.unsqueeze(-2).expand(*x.shape[:-1], t, x.shape[-1])  # noqa: E731
        return PromptQueries(content=content + self.task_sot, pos=content_pos, tokens=rep(tokens),
                             tokens_pos=rep(tokens_pos), kind="visual")

    def visual(self, feats: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor, t: int) -> PromptQueries:
        """Prompt queries of ``K`` targets from their memory pools.

        Args:
            feats, pos: ``K×L×C`` prompt tokens collected over earlier frames (zeros = blank).
            valid: ``K×L`` bool, False on blank tokens.
            t: clip length; the pooled tokens are shared by every frame of the clip.

        The query content is the mean of the non-blank tokens plus ``task_sot``; its position
        code is the mean of their codes (paper §4.2: "the mean of the memory pool").
        """
        w = valid.to(feats.dtype)[..., None]
        n = w.sum(1).clamp(min=1)
        mean_f, mean_p = (feats * w).sum(1) / n, (pos * w).sum(1) / n
        # blank tokens take the mean so they do not pull the attention towards zero vectors
        feats = torch.where(valid[..., None], feats, mean_f[:, None])
        pos = torch.where(valid[..., None], pos, mean_p[:, None])
        rep = lambda x: x.unsqueeze(-2).expand(*x.shape[:-1], t, x.shape[-1])  # noqa: E731
        return PromptQueries(content=rep(mean_f) + self.task_sot, pos=rep(mean_p), tokens=rep(feats),
                             tokens_pos=rep(pos), kind="visual")
