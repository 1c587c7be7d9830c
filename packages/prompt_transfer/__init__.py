"""Prompt transferability: soft prompts across tasks and models (Su et al., NAACL 2022)."""
