"""What a UniVS procedure receives, and the stats it returns.

A procedure is a function ``fn(model, ctx, frames, prompt) ->``
:class:`~.base.ProcedureResult` (:mod:`.univs_prompted`, :mod:`.univs_entity`): ``model`` the
UniVS network, ``ctx`` the frozen :class:`UniVSContext` the adapter's
:meth:`~.base.Adapter.prepare` made (settings, input size, device, text prompts), ``frames`` the
video, ``prompt`` the sample's prompt. It writes nothing on the adapter or the model; the peak
sizes of its streaming state (:class:`StreamStats`) come back as the result's stats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import InferenceContext
from .univs_text import UniVSText

__all__ = ["UniVSContext", "StreamStats"]


@dataclass(frozen=True)
class UniVSContext(InferenceContext):
    """:class:`~.base.InferenceContext` plus what the UniVS procedures need from the adapter.

    Attributes:
        settings: :class:`~.univs_settings.UniVSSettings` of the task on the benchmark.
        input_size: ``{"min_size", "max_size"}`` or ``{"min_size", "square"}`` (model card <
            benchmark ``MIN_SIZE_TEST`` < ``input_size`` option).
        device: where the model and the streaming state live (``"cpu"``, ``"cuda:0"``).
        text: the class embeddings and the text tower (loaded on first use, so a VOS run never
            loads them), or ``None`` for a context made without the adapter.
    """

    device: str = "cpu"
    text: UniVSText | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StreamStats:
    """Peak sizes of the streaming state over one video (each bounded in the video length).

    Attributes:
        cached_frames: frames whose encoder outputs were held at once (:class:`~.univs_memory.FrameCache`).
        pending_frames: frames with summed logits not yet emitted (:class:`~.univs_memory.MaskAccumulator`).
        pool_len: prompt-memory slots of the longest pool (:class:`~.univs_memory.PromptPool`).
        entities: VIS / VPS only: entities discovered in the video; ``None`` for other tasks.
    """

    cached_frames: int = 0
    pending_frames: int = 0
    pool_len: int = 0
    entities: int | None = None

    def widen(self, cached_frames: int, pending_frames: int, pool_len: int) -> "StreamStats":
        """These stats with each peak raised to the given current size."""
        return StreamStats(max(self.cached_frames, cached_frames), max(self.pending_frames, pending_frames),
                           max(self.pool_len, pool_len), self.entities)

    def as_dict(self) -> dict[str, int]:
        """The stats as a plain dict (``entities`` only where counted): the procedure's
        :attr:`~.base.ProcedureResult.stats`."""
        out = {"cached_frames": self.cached_frames, "pending_frames": self.pending_frames,
               "pool_len": self.pool_len}
        if self.entities is not None:
            out["entities"] = self.entities
        return out
