"""Unit tests of the APET methods (apet.md §2.8)."""
