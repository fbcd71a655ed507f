"""``python -m jupyter_token_broker``: a Jupyter server with the token broker; ``--help-all`` lists every
``c.TokenBroker`` option with its help, after the server's own (``jupyter server --help-all`` lists no extension's)."""

from .extension import TokenBrokerApp

TokenBrokerApp.launch_instance()
