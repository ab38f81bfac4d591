"""GLEE: General Object Foundation Model for Images and Videos at Scale (Wu et al., CVPR 2024).

Components (one file each): :mod:`.early_fusion` (GLIP-style bi-directional vision-language
attention), :mod:`.pixel_decoder` (MaskDINO deformable encoder + FPN), :mod:`.decoder` (DINO
deformable decoder), :mod:`.object_decoder` (two-stage query selection and the class / box /
mask / confidence heads), :mod:`.visual_prompter` (template crop + prompt-point sampling),
:mod:`.text` (CLIP text tokens and the 512→256 language projection), :mod:`.model` (the whole
network and the variant builders), :mod:`.convert` (official checkpoints → ours).
"""
