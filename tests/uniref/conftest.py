"""UniRef++ tests run tiny models with one intra-op thread (see ``tests/plugins/torch_threads.py``)."""
from torch_threads import _one_thread  # noqa: F401  (an autouse fixture)
