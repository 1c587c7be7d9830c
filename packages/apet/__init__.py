"""APET: arbitrary parameter-efficient tuning and model scale (Su et al., EMNLP 2023)."""
