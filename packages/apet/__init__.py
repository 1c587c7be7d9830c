"""APET: arbitrary parameter-efficient tuning and model scale (Su et al., EMNLP 2023).

Methods (apet.md §2.2–2.6): `methods` (registry, `apply_method`, `PetHandle`), `budget`
(trainable counts from a config), `pools`, `element` (APET-element), `tensor` (APET-tensor),
`adapters` (bottleneck adapters and BitFit).
"""
