"""Production serving with gunicorn."""
