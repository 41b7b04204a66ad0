"""Translation and summarisation service for ASEAN public-sector text."""

__version__ = "0.1.0"
