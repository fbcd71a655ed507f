"""Galata's in-page helpers on top of Binder's own configuration; Jupyter's authentication and XSRF checks stay
on, as on a BinderHub (``playwright.binder.config.ts``).

A server started with ``--config`` reads no ``jupyter_server_config.py`` of its own, so this file loads Binder's
(``~/.jupyter/jupyter_server_config.py``, where ``postBuild`` puts it) first.
"""

from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
load_subconfig(str(Path.home() / ".jupyter" / "jupyter_server_config.py"))  # noqa: F821

configure_jupyter_server(c)
c.ServerApp.disable_check_xsrf = False
# Jupyter's own random token, which the specs read from its runtime file.
c.IdentityProvider.pop("token", None)
