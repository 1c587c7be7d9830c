"""KI: knowledge inheritance for pre-trained language models (Qin et al., NAACL 2022)."""
