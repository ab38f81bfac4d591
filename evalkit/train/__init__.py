"""Training of the tiny UNINEXT variants on the shapes suite (CPU, deterministic):
``python -m evalkit.train`` (:mod:`.loop`)."""
