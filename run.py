"""WSGI entry point: `gunicorn run:app`."""
from app import create_app

app = create_app()
