"""Adapters around ``transformers`` models a researcher compares against: Grounding DINO
(detection, REC), OWLv2 (detection), Mask2Former (instance segmentation, MinVIS video instance
segmentation) and SAM 2 video (VOS). Each uses the model's own processor for pre- and
post-processing; see :mod:`.hf_common` for loading (pinned hub revisions) and options."""
