"""The example Archive Browser plugin of jupyter-token-broker, shipped as a prebuilt JupyterLab extension."""

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt extension lives in this package (used by ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "@jupyter-token-broker/archive-browser"}]
