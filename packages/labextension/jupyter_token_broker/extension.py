"""Wiring: the Jupyter server extension app that starts the broker and registers the proxy routes."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from .config import ConfigError, TokenBroker
from .handlers import ROUTE_PREFIX, BrokerCallbackHandler, BrokerProxyHandler
from .identity import owner_name
from .supervisor import BrokerSupervisor
from .upstream import BrokerClient


class TokenBrokerApp(ExtensionApp):
    """Loads ``c.TokenBroker``, supervises the broker for the server's lifetime and exposes it owner-only."""

    name = "jupyter_token_broker"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        self.broker_config = TokenBroker(parent=self)
        config, refusal = self.checked_config()
        self.supervisor = BrokerSupervisor(
            config=config,
            node_executable=self.broker_config.node_executable,
            broker_script=self.broker_config.broker_script,
            startup_timeout=self.broker_config.startup_timeout,
            log=self.log,
        )
        if refusal is not None:
            # The routes still answer (503 config_error with the reason); the server itself keeps running.
            self.supervisor.refuse(refusal)
        self.supervisor.prepare()
        self.client = BrokerClient(self.supervisor.socket)

    def checked_config(self) -> tuple[dict, str | None]:
        """The broker's config file contents, or ``({}, reason)`` when ``c.TokenBroker`` has a mistake."""
        try:
            self.broker_config.validate()
            return self.broker_config.broker_config(), None
        except ConfigError as err:
            return {}, str(err)

    def initialize_handlers(self) -> None:
        options = {
            "supervisor": self.supervisor,
            "client": self.client,
            # Looked up once: getpass.getuser() reads the password database when $USER is unset.
            "owner": owner_name(),
            "redirect_uri": self.broker_config.redirect_uri,
        }
        self.handlers.extend(
            [
                (f"/{ROUTE_PREFIX}(callback)", BrokerCallbackHandler, options),
                (f"/{ROUTE_PREFIX}(.*)", BrokerProxyHandler, options),
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.supervisor.start()

    async def stop_extension(self) -> None:
        await self.client.close()
        await self.supervisor.stop()
