"""Batch translation jobs: a durable store (SQLAlchemy), chunked tasks on Celery, one processing path."""
