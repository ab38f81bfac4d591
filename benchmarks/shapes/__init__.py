"""The embedded "shapes" suite: synthetic datasets of coloured shapes in the official layouts
(COCO, RefCOCO, DAVIS, YouTube-VIS, GOT-10k), generated deterministically on first use."""
