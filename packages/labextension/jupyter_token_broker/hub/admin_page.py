"""The admin page in the hub, ``{hub_prefix}token-broker/``: JupyterHub's own page (nav bar, Bootstrap) with the
bundled script (``static/admin.js``, built from ``hub-admin/src``) that calls the admin API with the browser's hub
cookie and XSRF token. Behind ``custom:token-broker:admin``, checked at request time."""

from __future__ import annotations

from pathlib import Path

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.static import CacheControlStaticFilesHandler
from jupyterhub.utils import url_path_join
from tornado import web

from .handlers import ADMIN_SCOPE

#: The page's Jinja template (in TEMPLATES_DIR, which ``configure()`` adds to ``c.JupyterHub.template_paths``).
TEMPLATE = "token-broker-admin.html"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: The built script and style sheet (``npm run build:hub-admin``) and their route (below the hub prefix).
STATIC_DIR = Path(__file__).resolve().parent / "static"
SCRIPT = "admin.js"
STYLE = "admin.css"
STATIC_ROUTE = "token-broker/static/"
FORBIDDEN = f"Token-broker administration needs the scope {ADMIN_SCOPE}. Ask a hub admin for a role with it."


class AdminPageHandler(BaseHandler):
    """``GET {hub_prefix}token-broker/``: the page, to a logged-in user holding ADMIN_SCOPE (filtered or not: the
    API shows each admin only the users their scope covers); 403 page otherwise."""

    @web.authenticated
    async def get(self) -> None:
        if ADMIN_SCOPE not in self.parsed_scopes:
            refused = web.HTTPError(403, FORBIDDEN, reason="Forbidden")
            # What JupyterHub's error page shows (5.5 would show the reason instead of the log message).
            refused.jupyterhub_message = FORBIDDEN  # type: ignore[attr-defined]
            raise refused
        self.set_header("Cache-Control", "no-store")
        html = await self.render_template(
            TEMPLATE,
            api_url=url_path_join(self.hub.base_url, "api/token-broker/v1/"),
            admin_script_url=static_url(self.hub.base_url, SCRIPT),
            admin_style_url=static_url(self.hub.base_url, STYLE),
        )
        self.finish(html)


def static_url(hub_prefix: str, name: str) -> str:
    """A built file's URL with its content hash, so browsers cache it until the next build."""
    version = web.StaticFileHandler.get_version({"static_path": str(STATIC_DIR)}, name)
    url = url_path_join(hub_prefix, STATIC_ROUTE, name)
    return f"{url}?v={version}" if version else url


def admin_page_handlers() -> list[tuple]:
    """The page's routes, relative to the hub prefix, for ``Authenticator.get_handlers``."""
    return [
        (r"/token-broker/?", AdminPageHandler),
        (rf"/{STATIC_ROUTE}(.*)", CacheControlStaticFilesHandler, {"path": str(STATIC_DIR)}),
    ]
