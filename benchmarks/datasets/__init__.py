"""Dataset cards (data): one ``<id>.json`` per dataset of the registered splits; read by
:mod:`evalkit.datasets` (schema in its docstring), listed by ``evalkit data ls``."""
