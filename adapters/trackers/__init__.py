"""Model-independent trackers and video post-processing shared by the model families.

* :class:`QuasiDenseEmbedTracker` - QDTrack's quasi-dense bi-softmax tracker (MOT/MOTS);
* :class:`IDOLTracker`, :class:`IDOLVideoAccumulator` - IDOL online VIS and its video-level
  post-processing; :func:`upsample_crop_resize` - mask logits to original-frame masks;
* :class:`MinVISMatcher`, :func:`match_from_embeds` - MinVIS frame-to-frame Hungarian matching;
* :func:`match_entities` and friends - UniVS bi-softmax matching of new entities to old ones;
* VOS utilities: :func:`soft_aggregate`, :func:`merge_probabilities`, palettes.
"""
from .common import TrackerInputError, TrackOutput, box_overlaps, match_scores
from .idol import IDOLTracker, idol_mask_iou, idol_mask_nms
from .quasi_dense import QuasiDenseEmbedTracker
from .video_postprocess import IDOLVideoAccumulator, VideoInstance, upsample_crop_resize

__all__ = [
    "IDOLTracker",
    "IDOLVideoAccumulator",
    "QuasiDenseEmbedTracker",
    "TrackOutput",
    "TrackerInputError",
    "VideoInstance",
    "box_overlaps",
    "idol_mask_iou",
    "idol_mask_nms",
    "match_scores",
    "upsample_crop_resize",
]
