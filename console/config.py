"""Configuration: contexts (like kubeconfig), each a list of backend sources.

Sources, highest first: command-line flags, `NOVACRON_*` variables (`__` nests), the TOML file
(`NOVACRON_CONFIG`, else the platform config dir). No file at all means the built-in demo
fleet. Every mistake becomes a `ConfigError` that names the key, the file and line when it can,
and suggests a fix; unknown keys are errors with a "did you mean".
"""

from __future__ import annotations

import difflib
import os
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_config_path, user_state_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from console import demo
from console.errors import Code, NovaError

DEMO_CONTEXT = "demo"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LibvirtSource(_Strict):
    """A libvirt host, reached by URI (`qemu:///system`, `qemu+ssh://…`, `qemu+tls://…`)."""

    kind: Literal["libvirt"] = "libvirt"
    name: str = Field(min_length=1, description="Name shown for this host; unique in a context.")
    uri: str = Field(min_length=1, description="libvirt connection URI.")
    timeout_s: float = Field(10.0, gt=0, description="Per-call timeout in seconds.")


class PrometheusSource(_Strict):
    """A Prometheus-API endpoint (Prometheus, Thanos, Mimir, VictoriaMetrics)."""

    kind: Literal["prometheus"] = "prometheus"
    name: str = Field("prometheus", min_length=1)
    url: str = Field(min_length=1, description="Base URL, e.g. http://127.0.0.1:9090.")
    timeout_s: float = Field(5.0, gt=0)
    inventory: bool = Field(False, description="Take the VM inventory from exporter series.")
    host_label: str = Field("instance", description="Label naming a hypervisor in every series.")
    window: str = Field("5m", description="rate() window for CPU and I/O queries.")
    queries: dict[str, str] = Field(default_factory=dict,
                                    description="PromQL template overrides by metric name.")
    host_uri: str | None = Field(None, description=(
        "libvirt URI template for acting on a VM of the inventory: `{host}` is the value of "
        "the host label, e.g. qemu+ssh://{host}/system."))
    host_uris: dict[str, str] = Field(default_factory=dict, description=(
        "libvirt URI per host (the host label's value); wins over `host_uri`."))

    @field_validator("host_uri")
    @classmethod
    def _template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        _needs_inventory("host_uri", info)
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(value)
                      if field is not None}
        except ValueError as exc:
            raise ValueError(f"host_uri {value!r} is not a valid template ({exc}); "
                             "write it like qemu+ssh://{host}/system") from exc
        if fields != {"host"}:
            other = sorted(fields - {"host"})
            problem = f"has other fields {other}" if other else "has no {host}"
            raise ValueError(f"host_uri {problem}: it takes exactly one field, {{host}}, the "
                             "value of the host label; e.g. qemu+ssh://{host}/system, or list "
                             "each host under host_uris")
        _refuse_unsafe("host_uri", value)
        return value

    @field_validator("host_uris")
    @classmethod
    def _per_host(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if value:
            _needs_inventory("host_uris", info)
        for host, uri in value.items():
            if not host or not uri:
                raise ValueError(f"host_uris: empty host name or URI ({host!r} = {uri!r})")
            _refuse_unsafe(f"host_uris.{host}", uri)
        return value

    def libvirt_uri(self, host: str) -> str | None:
        """The libvirt URI to act on `host`: `host_uris[host]`, else the template filled in,
        else None (this source cannot act on that host)."""
        if host in self.host_uris:
            return self.host_uris[host]
        if self.host_uri is None:
            return None
        return self.host_uri.format(host=host)


def _needs_inventory(key: str, info: ValidationInfo) -> None:
    if not info.data.get("inventory"):
        raise ValueError(f"{key} is only used with `inventory = true` (the console acts on the "
                         "hosts of the Prometheus inventory); set it, or remove the key")


def _refuse_unsafe(key: str, uri: str) -> None:
    """The libvirt backend's own URI check (no_verify is refused), at load time."""
    from backends.libvirt.backend import check_uri  # libvirt is loaded only when needed

    try:
        check_uri(uri)
    except NovaError as exc:
        raise ValueError(f"{key}: {exc}; remove no_verify and give the host a certificate "
                         "the CA signed") from exc


Source = Annotated[LibvirtSource | PrometheusSource, Field(discriminator="kind")]


class Context(_Strict):
    """A named fleet: the sources to poll and how the console treats them."""

    backends: list[Source] = Field(default_factory=list)
    read_only: bool = Field(False, description="Refuse every mutating action in this context.")
    production: bool = Field(False, description="Mark with the production accent colour.")
    theme: str | None = Field(None, description="Theme name for this context.")
    poll_interval_s: float = Field(5.0, ge=0.5, description="Seconds between polls of a source.")


class UISettings(_Strict):
    theme: str = "novacron-dark"
    """Default theme when the context names none."""
    ascii: bool = False
    """Draw with ASCII only (bars, big digits, key names): for the Linux console and old fonts."""


class Settings(BaseSettings):
    """The whole configuration file."""

    model_config = SettingsConfigDict(
        env_prefix="NOVACRON_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    default_context: str | None = None
    contexts: dict[str, Context] = Field(default_factory=dict)
    ui: UISettings = Field(default_factory=UISettings)
    keys: dict[str, str] = Field(default_factory=dict)
    """Key remapping by binding id, e.g. `"vm.force_off" = "F"`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `init_settings` carries the file's contents (see `load_settings`): lowest, so
        # `NOVACRON_*` variables override the file, nested keys merged.
        return (env_settings, init_settings)


class ConfigError(NovaError):
    """A configuration mistake, located and explained."""


def config_path() -> Path:
    """`NOVACRON_CONFIG`, else `~/.config/novacron/config.toml` (platform equivalent)."""
    env = os.environ.get("NOVACRON_CONFIG")
    return Path(env).expanduser() if env else user_config_path("novacron") / "config.toml"


def state_dir() -> Path:
    """Where the audit database and logs live (`NOVACRON_STATE_DIR` overrides)."""
    env = os.environ.get("NOVACRON_STATE_DIR")
    path = Path(env).expanduser() if env else user_state_path("novacron")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _names_key(stripped: str, key: str) -> bool:
    return stripped.startswith((f"{key} ", f"{key}=", f'"{key}"')) or stripped in (
        f"[{key}]", f"[[{key}]]") or stripped.endswith((f".{key}]", f".{key}]]"))


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of the key at `loc`: in the table the location names, when that table is
    written as a `[header]` (the same key in two contexts must point at the right one)."""
    key = str(loc[-1])
    path = [str(p) for p in loc[:-1]]
    table: list[str] = []
    arrays: dict[str, int] = {}
    first = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = stripped.startswith("[")
        if header:
            name = stripped.strip("[] ")
            if stripped.startswith("[["):
                arrays[name] = arrays.get(name, -1) + 1
                table = [*name.split("."), str(arrays[name])]
            else:
                table = name.split(".")
        if not _names_key(stripped, key):
            continue
        first = first or number
        if not header and path[: len(table)] == table:
            return number
    return first


def _known_fields(model: type[BaseModel] | None) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of a validation error location."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if model is Settings and part == "contexts":
            model = dict
            continue
        if model is dict:
            model = Context
            continue
        if model is Context and part == "backends":
            model = "source"
            continue
        if model == "source":
            model = {"libvirt": LibvirtSource, "prometheus": PrometheusSource}.get(part)
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        model = field.annotation if field is not None else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def explain(exc: ValidationError, path: Path | None, text: str) -> ConfigError:
    """Turn pydantic's errors into one message an operator can fix from."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc if not isinstance(p, int))
        key = str(loc[-1]) if loc else ""
        where = ""
        if path is not None:
            line = _line_of(text, loc)
            where = f"{path}:{line}: " if line else f"{path}: "
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, _known_fields(_model_at(loc)), n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else "remove it"
            lines.append(f"{where}unknown key '{dotted}': {fix}")
        else:
            lines.append(f"{where}'{dotted}': {err['msg']} (got {err.get('input')!r})")
    fix = "fix the file, then run `novacron config check`"
    return ConfigError(Code.CONFIG_INVALID, "; ".join(lines), fix)


def load_settings(path: Path | None = None) -> tuple[Settings, Path | None]:
    """Read and validate the config. Returns the settings and the file used (None: no file)."""
    path = path or config_path()
    data: dict[str, Any] = {}
    text = ""
    used: Path | None = None
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(Code.CONFIG_INVALID, f"{path}: {exc}", "the file is not valid TOML") from exc
        used = path
    try:
        return Settings(**data), used
    except ValidationError as exc:
        raise explain(exc, used, text) from exc


def demo_context() -> Context:
    """The built-in fleet: libvirt test-driver hosts shipped with the package."""
    return Context(
        backends=[LibvirtSource(name=name, uri=uri) for name, uri in demo.host_uris()],
        poll_interval_s=2.0,
    )


def resolve_context(settings: Settings, name: str | None) -> tuple[str, Context]:
    """Pick the context to open: the flag, else `default_context`, else the demo fleet."""
    contexts = dict(settings.contexts)
    contexts.setdefault(DEMO_CONTEXT, demo_context())
    chosen = name or settings.default_context or (
        next(iter(settings.contexts)) if settings.contexts else DEMO_CONTEXT)
    if chosen not in contexts:
        hint = difflib.get_close_matches(chosen, list(contexts), n=1)
        suggestion = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(sorted(contexts))}"
        raise ConfigError(Code.CONFIG_UNKNOWN_CONTEXT, repr(chosen), suggestion)
    return chosen, contexts[chosen]
