"""The common core of thunlp-repro: config, runs, registries, models, tasks, trainer, reports.

Nothing here imports torch at module import time except the modules that are about tensors
(`models`, `trainer`, `metrics`), so the CLI stays fast.
"""
