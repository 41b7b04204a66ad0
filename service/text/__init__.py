"""Text handling below the pipeline: document layout, sentence segmentation, language detection."""
