"""Short summaries: extractive (LexRank, no model weights; the default) and abstractive (seq2seq models through
the same engines as translation), with prompt templates from ``prompts/`` and length control."""
