"""openapi.yaml holds through the Jupyter server: schemathesis sends generated requests, valid and invalid, to every
operation a Jupyter user can reach (``{base_url}token-broker/api/v1/…`` with the server's token) and checks each
answer against the contract: never a 5xx, only documented status codes and content types, bodies and headers as the
schema describes them, and invalid input refused with a 4xx.

The contract describes the broker on its socket; a Jupyter user reaches the same API with three differences, applied
to the loaded document here (:func:`jupyter_face`): the server extension sets every ``X-Broker-*`` header itself (a
caller's are dropped), so they are not parameters; ``/metrics`` is the socket's only; and the credential is Jupyter's
token, not the broker key (:func:`test_every_operation_needs_jupyters_authentication` checks the refusal without it).

Bounded for ``make test``: a fixed seed, schemathesis's coverage phase (deterministic boundary and negative cases) and
:data:`MAX_EXAMPLES` fuzzed examples per operation, under a minute and a half on two cores. The figures (operations,
cases, answers by status) are printed at the end of the module.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from browser_session import browser_login
from demo_idp import DemoIdp, sign_in, start_idp
from jupyter_process import REPO_DIR, JupyterServer, free_ports, start_server

OPENAPI = REPO_DIR / "packages" / "broker" / "openapi.yaml"
IDP_PORT, API_PORT, JUPYTER_PORT = free_ports(3)
TRUSTED_HEADER_PREFIX = "x-broker-"
SOCKET_ONLY_PATHS = ("/metrics",)
PROVIDER = "demo"
"""The configured provider (signed in): every other positive case names it (path ``id``, query or body ``provider``),
so that tokens, sign-out, consents and events are answered for a real provider, not only ``unknown_provider``."""
IDP_TOKEN_LIFETIME = 60
"""Seconds the demo IdP's access tokens live (``packages/demo/lib/providerConfig.mjs``)."""
MAX_EXAMPLES = 30
SEED = 20261130

ANSWERS: dict[str, Counter[int]] = defaultdict(Counter)
"""Status codes answered, by operation (``METHOD /path``), for the summary."""


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
"""The keys of an OpenAPI path item that are operations."""


def jupyter_face(contract: dict[str, Any]) -> dict[str, Any]:
    """The contract as a Jupyter user reaches it: no ``X-Broker-*`` header parameters, no socket-only paths, and no
    broker key (the server extension sets both; Jupyter's token is the credential, sent with every case)."""
    face = copy.deepcopy(contract)
    face["paths"] = {path: item for path, item in face["paths"].items() if path not in SOCKET_ONLY_PATHS}
    parameters = face["components"]["parameters"]

    def is_trusted(parameter: dict[str, Any]) -> bool:
        if "$ref" in parameter:
            parameter = parameters[parameter["$ref"].rsplit("/", 1)[1]]
        return parameter["in"] == "header" and parameter["name"].lower().startswith(TRUSTED_HEADER_PREFIX)

    for item in face["paths"].values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue  # a path item's own summary, description or parameters
            operation["parameters"] = [p for p in operation.get("parameters", []) if not is_trusted(p)]
            operation.pop("security", None)
    face["components"].pop("securitySchemes")
    face.pop("security")
    return face


FACE = jupyter_face(yaml.safe_load(OPENAPI.read_text()))
OPERATIONS = {
    f"{method.upper()} {path}" for path, item in FACE["paths"].items() for method in item if method in HTTP_METHODS
}

schema = schemathesis.openapi.from_dict(
    copy.deepcopy(FACE),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Unknown query parameters are ignored, as most HTTP APIs do: not a refusal the contract promises.
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "allow-extra-parameters": False},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                # Tornado answers a method no route has (TRACE, PATCH) 405 without ``Allow``, the broker a known path
                # with another method 404 ``not_found``: neither is in the contract, and neither is a server error.
                "unsupported_method": {"enabled": False},
            },
        }
    ),
)


def refused_by_design(case: schemathesis.Case) -> str | None:
    """Why a schema-valid request is refused 400 anyway, as the contract says in words (the schema cannot)."""
    operation_id = case.operation.definition.raw.get("operationId")
    body = case.body if isinstance(case.body, dict) else {}
    if operation_id == "completeLogin":
        return "a well-formed state names no login the broker started"
    if operation_id == "getToken" and body.get("audience") is not None:
        return "a sign-in provider takes no audience"
    if operation_id == "getToken" and (body.get("min_ttl") or 0) > IDP_TOKEN_LIFETIME:
        return "a min_ttl longer than the IdP's tokens live"
    if operation_id == "startLogin" and body.get("method") == "device":
        return "the demo IdP offers no device flow"
    return None


@pytest.fixture(scope="module")
def idp() -> Iterator[DemoIdp]:
    server = start_idp(IDP_PORT, [JUPYTER_PORT], api_port=API_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory, idp: DemoIdp) -> Iterator[JupyterServer]:
    providers = [
        {
            "id": PROVIDER,
            "title": "Demo IdP",
            "kind": "oidc",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        }
    ]
    running = start_server(tmp_path_factory.mktemp("schemathesis"), JUPYTER_PORT, providers)
    # Signed in, so that token requests reach the IdP and answer tokens, not only login_required.
    sign_in(browser_login(running), running, PROVIDER, "alice", "demo")
    yield running
    running.stop()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES)
def test_jupyter_server_keeps_the_contract(case: schemathesis.Case, jupyter: JupyterServer) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and sum(ANSWERS[label].values()) % 2:
        for container, name in ((case.path_parameters, "id"), (case.query, "provider"), (case.body, "provider")):
            if isinstance(container, dict) and isinstance(container.get(name), str):
                container[name] = PROVIDER
    excluded = [positive_data_acceptance] if refused_by_design(case) else []
    response = case.call(base_url=f"{jupyter.url}token-broker", headers={"Authorization": f"token {jupyter.token}"})
    ANSWERS[label][response.status_code] += 1
    case.validate_response(response, excluded_checks=excluded)


def test_every_operation_needs_jupyters_authentication(jupyter: JupyterServer) -> None:
    # Jupyter refuses an API call without its token (403) before the extension sees it; the callback, a page the
    # browser navigates to, sends the browser to Jupyter's login page instead.
    with httpx.Client(timeout=30, trust_env=False) as anonymous:
        for path, item in FACE["paths"].items():
            for method in sorted(HTTP_METHODS.intersection(item)):
                url = f"{jupyter.url}token-broker{path.replace('{id}', PROVIDER)}"
                response = anonymous.request(method.upper(), url, json={} if method in ("post", "put") else None)
                expected = 302 if path == "/api/v1/callback" else 403
                assert response.status_code == expected, (method, path, response.status_code, response.text)


def test_no_case_met_a_server_error(capsys: pytest.CaptureFixture[str]) -> None:
    # After the generated cases (pytest runs a module's tests in order): the figures, and 0 server errors overall.
    cases = sum(sum(statuses.values()) for statuses in ANSWERS.values())
    statuses = sum(ANSWERS.values(), Counter())
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    with capsys.disabled():
        print(
            f"\nschemathesis through the Jupyter server: {len(ANSWERS)} operations, {cases} cases, "
            f"{server_errors} server errors; answers by status {dict(sorted(statuses.items()))}"
        )
        for label, counts in ANSWERS.items():
            print(f"  {label}: {sum(counts.values())} cases, {dict(sorted(counts.items()))}")
    if not ANSWERS:
        pytest.skip("the generated cases did not run (deselected)")
    assert set(ANSWERS) == OPERATIONS
    assert server_errors == 0
