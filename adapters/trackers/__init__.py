"""Model-independent trackers and video post-processing shared by the model families.

* :class:`QuasiDenseEmbedTracker` - QDTrack's quasi-dense bi-softmax tracker (MOT/MOTS);
* :class:`IDOLTracker`, :class:`IDOLVideoAccumulator` - IDOL online VIS and its video-level
  post-processing; :func:`upsample_crop_resize` - mask logits to original-frame masks;
* :class:`MinVISMatcher`, :func:`match_from_embeds` - MinVIS frame-to-frame Hungarian matching;
* :func:`match_entities` and friends - UniVS bi-softmax matching of new entities to old ones;
* VOS utilities: :func:`soft_aggregate`, :func:`merge_probabilities`, palettes.
"""
from .common import TrackerInputError, TrackOutput, box_overlaps, match_scores
from .entity_matching import (
    EntityMatch,
    bisoftmax_entity_similarity,
    match_entities,
    newly_detected,
    update_entity_memory,
)
from .idol import IDOLTracker, idol_mask_iou, idol_mask_nms
from .minvis import (
    MinVISMatcher,
    align_video,
    clip_windows,
    match_from_embeds,
    tao_frame_filter,
    tao_video_topk,
    video_topk,
)
from .quasi_dense import QuasiDenseEmbedTracker
from .video_postprocess import (
    IDOLVideoAccumulator,
    VideoInstance,
    resize_mask_logits,
    tracked_frame_instances,
    upsample_crop_resize,
    video_instances_to_frames,
)
from .vos import (
    merge_binary_masks,
    merge_probabilities,
    soft_aggregate,
    split_label_map,
)

__all__ = [
    "align_video",
    "bisoftmax_entity_similarity",
    "box_overlaps",
    "clip_windows",
    "EntityMatch",
    "idol_mask_iou",
    "idol_mask_nms",
    "IDOLTracker",
    "IDOLVideoAccumulator",
    "match_entities",
    "match_from_embeds",
    "match_scores",
    "merge_binary_masks",
    "merge_probabilities",
    "MinVISMatcher",
    "newly_detected",
    "QuasiDenseEmbedTracker",
    "resize_mask_logits",
    "soft_aggregate",
    "split_label_map",
    "tao_frame_filter",
    "tao_video_topk",
    "tracked_frame_instances",
    "TrackerInputError",
    "TrackOutput",
    "update_entity_memory",
    "upsample_crop_resize",
    "video_instances_to_frames",
    "video_topk",
    "VideoInstance",
]
