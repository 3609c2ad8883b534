"""Where a Flask app made by ``create_app`` keeps its ``Engine``: in ``app.extensions``."""

from __future__ import annotations

from flask import Flask, current_app

from ..core.engine import Engine

EXTENSION = "aichat_mock"


def engine_of(app: Flask) -> Engine:
    """The ``Engine`` behind an app made by ``create_app``."""
    engine: Engine = app.extensions[EXTENSION]
    return engine


def current_engine() -> Engine:
    """The engine of the app handling the current request."""
    return engine_of(current_app)
