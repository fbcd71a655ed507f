"""What docs/hub.md and docs/z2jh/ tell admins to run is what the end-to-end hub and the demo hub run.

- ``docs/z2jh/values.yaml``'s ``hub.extraConfig.tokenBroker`` is ``docs/z2jh/token_broker.py`` verbatim, and that
  file is what the e2e hub (``e2e_stack.RUN_DOCS_FRAGMENT``) and the demo hub run;
- run as Zero to JupyterHub runs it (after ``hub.loadRoles`` became ``c.JupyterHub.load_roles``), the fragment gives
  users the token scope once, defines the custom scopes and sets what every spawner gets;
- the ``jupyterhub_config.py`` blocks of docs/hub.md are valid Python and use only real traits.
"""

from __future__ import annotations

import re

import yaml
from traitlets.config import Config

from e2e_stack import DOCS_FRAGMENT, RUN_DOCS_FRAGMENT
from hub_stack import REPO_DIR

DOCS = REPO_DIR / "docs"
VALUES = DOCS / "z2jh" / "values.yaml"
HUB_MD = DOCS / "hub.md"
DEMO_HUB_CONFIG = REPO_DIR / "packages" / "demo" / "hub" / "jupyterhub_config.py"
TOKEN_SCOPE = "custom:token-broker:token!user"


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.DOTALL)


def test_values_yaml_carries_the_fragment_verbatim() -> None:
    assert values()["hub"]["extraConfig"]["tokenBroker"] == DOCS_FRAGMENT.read_text()


def test_the_e2e_hub_and_the_demo_hub_run_the_fragment() -> None:
    assert str(DOCS_FRAGMENT) in RUN_DOCS_FRAGMENT
    demo = DEMO_HUB_CONFIG.read_text()
    assert '"docs" / "z2jh" / "token_broker.py"' in demo
    assert "configure(" not in demo.replace("configure(c)", ""), "the demo hub calls configure only via the fragment"


def test_the_z2jh_values_keep_what_the_hub_side_needs() -> None:
    hub = values()["hub"]
    oauth = hub["config"]["GenericOAuthenticator"]
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    assert oauth["enable_auth_state"] is True
    assert "offline_access" in oauth["scope"]
    assert not oauth.get("userdata_from_id_token"), "an expired ID token makes OAuthenticator's 500 carry it"
    assert hub["loadRoles"]["user"]["scopes"] == ["self", TOKEN_SCOPE]
    assert (DOCS / "z2jh" / "Dockerfile.hub").read_text().count("FROM quay.io/jupyterhub/k8s-hub:4.4.0") == 1
    assert "k8s-singleuser-sample:4.4.0" in (DOCS / "z2jh" / "Dockerfile.singleuser").read_text()


def test_the_fragment_run_as_z2jh_runs_it_configures_the_hub() -> None:
    c = Config()
    for section, traits in values()["hub"]["config"].items():
        for name, value in traits.items():
            c[section][name] = value
    # What the chart's jupyterhub_config.py does with hub.loadRoles, before hub.extraConfig runs.
    c.JupyterHub.load_roles = [{"name": name, **role} for name, role in values()["hub"]["loadRoles"].items()]
    exec(DOCS_FRAGMENT.read_text(), {"c": c})  # noqa: S102 (the docs' own fragment, as the chart runs it)

    user_role = next(role for role in c.JupyterHub.load_roles if role["name"] == "user")
    assert user_role["scopes"].count(TOKEN_SCOPE) == 1
    assert "self" in user_role["scopes"]
    assert {"custom:token-broker:token", "custom:token-broker:admin"} <= set(c.JupyterHub.custom_scopes)
    assert "JUPYTER_TOKEN_BROKER_HUB" in c.Spawner.environment
    assert callable(c.Spawner.server_token_scopes)
    assert callable(c.JupyterHub.user_redirect_hook)
    assert c.JupyterHub.authenticator_class.__name__ == "TokenBrokerGenericOAuthenticator"


def test_the_hub_md_config_blocks_are_python_with_real_traits() -> None:
    from jupyterhub.app import JupyterHub  # noqa: PLC0415
    from jupyterhub.auth import Authenticator  # noqa: PLC0415
    from jupyterhub.crypto import CryptKeeper  # noqa: PLC0415
    from jupyterhub.spawner import Spawner  # noqa: PLC0415
    from oauthenticator.generic import GenericOAuthenticator  # noqa: PLC0415

    classes = {
        "JupyterHub": JupyterHub,
        "GenericOAuthenticator": GenericOAuthenticator,
        "Authenticator": Authenticator,
        "CryptKeeper": CryptKeeper,
        "Spawner": Spawner,
    }
    blocks = python_blocks(HUB_MD.read_text())
    configs = [block for block in blocks if "c.GenericOAuthenticator" in block]
    assert len(configs) >= 2, "the Cognito and the Keycloak jupyterhub_config.py"
    for block in blocks:
        compile(block, "docs/hub.md", "exec")
        for section, trait in re.findall(r"\bc\.(\w+)\.(\w+)\s*=", block):
            assert section in classes, f"c.{section}.{trait} in docs/hub.md"
            assert classes[section].class_traits(config=True).get(trait) is not None, f"c.{section}.{trait}"
