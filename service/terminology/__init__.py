"""Domain terminology: glossary files, term matching, and enforcement with a per-term report.

(Named so because the top-level ``glossary/`` folder holds the data files.)
"""
