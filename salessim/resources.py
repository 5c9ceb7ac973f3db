"""Where salessim's own files live: the scenario library, the report notebooks, the sample CRM export.

In a checkout (and an editable install) they are the repository's ``data/`` and ``notebooks/``
folders. A built wheel carries the same folders as package data under ``salessim/_bundled/``,
found through :mod:`importlib.resources`, so a regular install works from any directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["ROOT", "project_root"]


def project_root() -> Path:
    """The folder holding ``data/scenarios``, ``data/crm_sample`` and ``notebooks``."""
    bundled = files("salessim").joinpath("_bundled")
    if bundled.is_dir():
        return Path(str(bundled)).resolve()
    return Path(__file__).resolve().parent.parent


#: The folder holding ``data/`` and ``notebooks/`` (the checkout, or the wheel's bundled copy).
ROOT = project_root()
