"""Wiring: the Jupyter server extension app that starts the broker and registers the proxy routes."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.extension.application import ExtensionApp

from .config import ConfigError, TokenBroker
from .egress_client import EGRESS_PREFIX, EgressClient, EgressLimits
from .egress_proxy import EgressProxyHandler
from .handlers import ROUTE_PREFIX, BrokerCallbackHandler, BrokerProxyHandler
from .hub_env import HubAnnouncementError, HubEnvironment
from .identity import owner_name
from .idle import IdleQueries
from .orders import StartOrders
from .owner import Owner, decide_owner
from .sharing import ShareCheck
from .supervisor import BrokerSupervisor
from .upstream import BrokerClient


class TokenBrokerApp(ExtensionApp):
    """Loads ``c.TokenBroker``, supervises the broker (started on first use, stopped when idle) and exposes it
    owner-only."""

    name = "jupyter_token_broker"
    load_other_extensions = True
    # `python -m jupyter_token_broker --help-all` lists c.TokenBroker with the server's options.
    classes: ClassVar[list] = [*ExtensionApp.classes, TokenBroker]

    def initialize_settings(self) -> None:
        self.broker_config = TokenBroker(parent=self)
        hub = HubEnvironment.from_environ()
        self.share_check = (
            ShareCheck(hub, ttl=self.broker_config.share_check_seconds, log=self.log)
            if hub is not None and self.broker_config.refuse_while_shared
            else None
        )
        config, refusal = self.checked_config(hub)
        self.owner = self.decided_owner()
        if refusal is None and self.owner is None:
            refusal = self.owner_refusal
        self.supervisor = BrokerSupervisor(
            config=config,
            node_executable=self.broker_config.node_executable,
            broker_script=self.broker_config.broker_script,
            startup_timeout=self.broker_config.startup_timeout,
            log=self.log,
            idle_exit_seconds=self.broker_config.idle_exit_seconds,
        )
        if refusal is not None:
            # The routes still answer (503 config_error with the reason); the server itself keeps running.
            self.supervisor.refuse(refusal)
        self.supervisor.prepare()
        self.client = BrokerClient(self.supervisor.socket)
        self.supervisor.idle_queries = IdleQueries(self.client, key=self.supervisor.key, owner=owner_name())
        if hub is not None and hub.announcement is not None:
            # Under a hub that runs configure(): its revocation orders for this user are applied before the broker
            # serves anything (an admin may have revoked the user while this server was stopped).
            self.supervisor.before_serving = StartOrders(
                hub, self.client, key=self.supervisor.key, owner=owner_name(), log=self.log
            )

    def checked_config(self, hub: HubEnvironment | None) -> tuple[dict, str | None]:
        """The broker's config file contents, or ``({}, reason)`` when ``c.TokenBroker`` has a mistake."""
        try:
            self.broker_config.validate()
            return self.broker_config.broker_config(self.hub_provider(hub)), None
        except ConfigError as err:
            return {}, str(err)

    def decided_owner(self) -> Owner | None:
        """Whom the routes serve (``owner.py``), or None (with ``owner_refusal`` set) when it cannot be decided."""
        self.owner_refusal: str | None = None
        try:
            return decide_owner(self.broker_config.owner, self.serverapp.identity_provider)
        except ConfigError as err:
            self.owner_refusal = str(err)
            return None

    def hub_provider(self, hub: HubEnvironment | None) -> dict | None:
        """The hub login's provider when the hub announces it (``JUPYTER_TOKEN_BROKER_HUB``), else None."""
        if hub is None:
            return None
        try:
            provider = hub.hub_provider()
        except HubAnnouncementError as err:
            self.log.error("token-broker: the hub login is not offered as a provider: %s", err)
            return None
        if provider is not None:
            self.log.info("token-broker: JupyterHub login of %s offered as provider %r", hub.user, provider["id"])
        return provider

    def initialize_handlers(self) -> None:
        options = {
            "supervisor": self.supervisor,
            "client": self.client,
            # Looked up once: getpass.getuser() reads the password database when $USER is unset.
            "owner": owner_name(),
            "admitted": self.owner,
            "redirect_uri": self.broker_config.redirect_uri,
            "share_check": self.share_check,
        }
        self.handlers.extend(
            [
                (f"/{ROUTE_PREFIX}(callback)", BrokerCallbackHandler, options),
                (
                    f"/{ROUTE_PREFIX}({EGRESS_PREFIX}.*)",
                    EgressProxyHandler,
                    {**options, "egress": self.egress_client()},
                ),
                (f"/{ROUTE_PREFIX}(.*)", BrokerProxyHandler, options),
            ]
        )

    def egress_client(self) -> EgressClient:
        """The streaming client of the egress route, with the limits ``c.TokenBroker`` gives the broker."""
        return EgressClient(self.supervisor.socket, EgressLimits.from_config(self.broker_config))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        # The broker itself starts at the first request that needs it; its config is checked now.
        self.supervisor.check()

    async def stop_extension(self) -> None:
        await self.client.close()
        await self.supervisor.stop()
