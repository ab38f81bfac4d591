"""UniVS: "Unified and Universal Video Segmentation with Prompts as Queries" (Li et al., CVPR 2024).

Components (one file each): :mod:`.pixel_decoder` (image encoder neck), :mod:`.position_encoding`
(3-D sine codes), :mod:`.prompt_encoder` (visual sampler and text prompts), :mod:`.mask_decoder`
(unified video mask decoder with ProCA), :mod:`.model` (the assembly), :mod:`.convert` (official
checkpoint → ours) and :mod:`.configs` (variants).
"""
