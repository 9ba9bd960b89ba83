"""The console's Jinja2 environment, handed to Litestar's template support.

Templates live in ``console/templates/console/`` beside this module; the filters turn API JSON
into readable text (times, durations, pretty JSON) and the globals build URLs.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from hookline_edge.console import urls, views

__all__ = ["TEMPLATE_DIR", "console_template_config"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
STYLESHEET = Path(__file__).parent / "static" / "console.css"


def _environment(auth_enabled: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=views.format_time,
        ms=views.format_ms,
        pretty=views.pretty_json,
        short_id=views.short_id,
    )
    env.globals.update(
        console_path=urls.CONSOLE_PATH,
        static_path=urls.STATIC_PATH,
        login_path=urls.LOGIN_PATH,
        workflow_url=urls.workflow_url,
        execution_url=urls.execution_url,
        executions_url=urls.executions_url,
        run_duration_ms=views.run_duration_ms,
        auth_enabled=auth_enabled,
        # Pages shown before the key is given carry their styles inline: with a key
        # set, nothing under /console (static files included) is served without it.
        inline_stylesheet=Markup(STYLESHEET.read_text(encoding="utf-8")),
    )
    return env


def console_template_config(*, auth_enabled: bool) -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's template config for the console (the app has no other templates);
    ``auth_enabled`` shows the log-out button."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(_environment(auth_enabled)))
