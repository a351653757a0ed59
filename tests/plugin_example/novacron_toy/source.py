"""The toy kind's config entry and factory: light, like every kind's `source` module."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from backends.base import Backend, BackendKind, SourceConfig


class ToySource(SourceConfig):
    kind: Literal["toy"] = "toy"
    path: Path = Field(description="JSON file holding the toy fleet.")


def open_source(config: ToySource, *, read_only: bool) -> Backend:
    from .backend import ToyBackend

    return ToyBackend(config.name, config.path, read_only=read_only)


KIND = BackendKind(name="toy", config=ToySource, open=open_source,
                   description="VMs in a JSON file (an example kind from outside the project).")
