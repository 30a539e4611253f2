"""The audio-voice service: FastAPI API (``service.api``), Celery worker (``service.worker``)."""
