"""The Dash app's background callbacks as Celery tasks: a worker builds the same app the web
serves (`create_app` registers each background callback as a task on `tasks.celery_app`), so the
jobs a page queues (e.g. the strategy page's "Run backtest / sweep") have code to run here."""

from __future__ import annotations

from app.config import Settings

settings = Settings.from_env()
dash_app = None
if settings.REDIS_URL:
    from app import create_app

    dash_app = create_app(settings)
