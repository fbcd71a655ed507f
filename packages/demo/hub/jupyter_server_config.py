"""Jupyter server configuration of the users' servers in the hub demo (``packages/demo/hub/jupyterhub_config.py``).

No provider is configured here: the server extension adds the provider ``hub`` by itself, because the hub runs
``configure(c)`` (``JUPYTER_TOKEN_BROKER_HUB``). This file only points the panel's snippets and the example Archive
Browser plugin at the demo API, as an admin's ``overrides.json`` would.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

DEMO_API_URL = os.environ["DEMO_API_URL"]

c.ServerApp.jpserver_extensions = {"jupyter_token_broker": True}
c.TokenBroker.store = {"type": "memory"}

# A settings directory per user, inside the demo's state directory (the user's home there).
settings_dir = Path(os.environ["HOME"]) / ".demo-settings"
settings_dir.mkdir(parents=True, exist_ok=True)
(settings_dir / "overrides.json").write_text(
    json.dumps(
        {
            "jupyter-token-broker:panel": {"snippetUrl": f"{DEMO_API_URL}/whoami"},
            "@jupyter-token-broker/archive-browser:plugin": {
                "apiUrl": DEMO_API_URL,
                "provider": "hub",
            },
        }
    )
)
c.LabApp.app_settings_dir = str(settings_dir)
