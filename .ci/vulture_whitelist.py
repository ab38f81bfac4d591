# Names that vulture (static analysis) reports as unused but that are used dynamically or are
# part of an interface; read by `.ci/run`. One line per name, each saying why it stays.
# ruff: noqa
_ = object()

# -- used by protocols and frameworks (called by name, not from our code) ---------------------
_.compress_type  # zipfile.ZipInfo fields written for the submission archive (benchmarks/_io.py)
_.external_attr  # zipfile.ZipInfo field: file permissions inside the archive (benchmarks/_io.py)
_.catIds  # pycocotools Params field set before COCOeval.evaluate() (evalkit/metrics/coco.py)
_.find_class  # pickle.Unpickler hook overridden to refuse code (evalkit/safe_load.py)
_.extra_repr  # nn.Module hook printed by repr(module) (zoo/layers/norm.py)
__getattr__  # PEP 562 lazy module attributes (zoo/__init__.py, zoo/text/__init__.py)
__dir__  # PEP 562 companion of the lazy attributes (zoo/__init__.py)
_  # torch.library register_fake / register_autograd callbacks (zoo/ops/msda.py)
_.fix  # doctor Check field, read through dataclasses.asdict (evalkit/doctor.py)
_.identity_converter  # named as "module:function" by the tiny model cards (zoo/cards/*.json)

# -- public API for plugins and users ---------------------------------------------------------
_.unregister  # Registry API: plugins and tests remove what they registered (evalkit/registry.py)
_.group_description  # Registry API: the description given to register_group (evalkit/registry.py)
_.license  # model card field, data read by users of Card (zoo/cards/__init__.py)
_.vocabulary  # InferenceContext field: the resolved UniVS vocabulary, part of the context users read (adapters/base.py)
_.paper_results  # model card field, checked against reports/data/paper_results.csv by the tests

# -- parameters kept so that official checkpoints load (state-dict keys) ----------------------
_.dn_label_encoder  # UNINEXT checkpoint key detr.dn_label_encoder.* (zoo/uninext/model.py)
_.resizer  # UNINEXT checkpoint key transformer.resizer.* (zoo/uninext/transformer.py)
_.reid_temp  # UniVS checkpoint key, unused at inference (zoo/univs/mask_decoder.py)
