"""Configuration: contexts (like kubeconfig), each a list of backend sources.

Sources, highest first: command-line flags, `NOVACRON_*` variables (`__` nests), the TOML file
(`NOVACRON_CONFIG`, else the platform config dir). No file at all means the built-in demo
fleet. Every mistake becomes a `ConfigError` that names the key, the file and line when it can,
and suggests a fix; unknown keys are errors with a "did you mean".
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from platformdirs import user_config_path, user_state_path
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from backends import registry
from backends.base import SourceConfig
from console import demo
from console.errors import Code, NovaError

DEMO_CONTEXT = "demo"

STORE_SCHEMES = ("postgresql", "postgres")


def is_store_url(value: str) -> bool:
    """A libpq URL (team mode) rather than a SQLite file path."""
    return value.split(":", 1)[0].lower() in STORE_SCHEMES and "://" in value


def store_password_problem(url: str) -> str | None:
    """Why a store URL may not be used (it carries a password: that belongs in PGPASSFILE,
    ~/.pgpass or PGPASSWORD, never in a config file that gets copied around), or None."""
    parts = urlsplit(url)
    query = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if parts.password is not None or "password" in query:
        return ("the store URL carries a password: remove it, and give the password to libpq "
                "in PGPASSFILE or ~/.pgpass (or PGPASSWORD in the environment)")
    return None


def without_password(url: str) -> str:
    """`url` with any password masked, for a message about a URL we refused."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(f"{k}=***" if k.lower() == "password" else f"{k}={v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(netloc=netloc, query=query))

STORE_HELP = (
    "Where the audit log, per-VM locks and migration history live: a SQLite file path, or a "
    "libpq URL such as postgresql://ana@db-1.example/novacron?sslmode=verify-full shared by "
    "several consoles (team mode). Never a password: libpq reads it from PGPASSFILE or "
    "~/.pgpass, or PGPASSWORD. Unset: novacron.db in the state directory."
)


def _no_password(value: str | None) -> str | None:
    """A store URL carrying a password is refused where it is written: in the config."""
    if value is not None and is_store_url(value) and (problem := store_password_problem(value)):
        raise ValueError(problem)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _source_union() -> Any:
    """One entry of `backends`: the config model of every installed kind, told apart by
    `kind` (a kind added by entry point is accepted here with no edit to this file)."""
    models = tuple(kind.config for kind in registry.kinds())
    if not models:
        return SourceConfig
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007  # a runtime tuple


if TYPE_CHECKING:  # every kind's model is a SourceConfig; validation uses the real union
    Source = SourceConfig
else:
    Source = _source_union()


class TemplateConfig(BaseModel):
    """What a new VM is made from, and its default size. `kind` names the backend kind that
    makes it; the kind's own fields (libvirt: pool, base_volume, network…; EC2: ami,
    instance_type…) sit beside the common ones and are validated by that kind's model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    description: str = ""
    vcpus: int = Field(1, ge=1, description="Default vCPUs.")
    memory: ByteSize = Field(ByteSize(512 * 2**20), description="Default memory, e.g. \"2GiB\".")
    disk: ByteSize = Field(ByteSize(0), description="Default disk size (0: the image's own).")
    tags: list[str] = Field(default_factory=list, description="Tags every VM made from it gets.")

    @model_validator(mode="after")
    def _kind_fields(self) -> TemplateConfig:
        names = [k.name for k in registry.kinds()]
        if self.kind not in names:
            hint = difflib.get_close_matches(self.kind, names, n=1)
            raise ValueError(f"no backend of kind {self.kind!r} is installed"
                             + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        model = registry.kind(self.kind).template
        if model is None:
            raise ValueError(f"the {self.kind} kind cannot create VMs (it has no templates)")
        model.model_validate(self.model_extra or {})
        return self

    def fields(self) -> dict[str, Any]:
        """The kind's own fields, validated, with its defaults filled in."""
        model = registry.kind(self.kind).template
        assert model is not None
        return model.model_validate(self.model_extra or {}).model_dump()


class OvercommitLimits(_Strict):
    """How far the scheduler may allocate beyond the hardware of a host."""

    cpu: float = Field(4.0, gt=0, description="vCPUs per physical CPU.")
    memory: float = Field(1.0, gt=0, description="Guest memory per byte of host RAM.")


class Context(_Strict):
    """A named fleet: the sources to poll and how the console treats them."""

    backends: list[Source] = Field(default_factory=list)
    read_only: bool = Field(False, description="Refuse every mutating action in this context.")
    production: bool = Field(False, description="Mark with the production accent colour.")
    theme: str | None = Field(None, description="Theme name for this context.")
    poll_interval_s: float = Field(5.0, ge=0.5, description="Seconds between polls of a source.")
    templates: dict[str, TemplateConfig] = Field(default_factory=dict,
                                                 description="What new VMs are made from.")
    overcommit: OvercommitLimits = Field(default_factory=OvercommitLimits)
    spread_by: str = Field("", description=(
        "A tag key (e.g. role): two VMs with the same value share a host only when no other "
        "fits."))
    store: str | None = Field(None, description=STORE_HELP + " Overrides the top-level `store`.")

    _store_has_no_password = field_validator("store")(_no_password)


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
    store: str | None = Field(None, description=STORE_HELP)
    """The store of every context that names none (`NOVACRON_STORE` overrides the file)."""

    _store_has_no_password = field_validator("store")(_no_password)

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
            model = {kind.name: kind.config for kind in registry.kinds()}.get(part)
            continue
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        field = model.model_fields.get(part) if is_model else None
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
        if err["type"] == "union_tag_invalid":
            names = [k.name for k in registry.kinds()]
            got = str((err.get("ctx") or {}).get("tag", "?"))
            hint = difflib.get_close_matches(got, names, n=1)
            fix = f"did you mean {hint[0]!r}? " if hint else ""
            lines.append(f"{where}'{dotted}': no backend of kind {got!r} is installed: {fix}"
                         f"(installed: {', '.join(map(repr, names))}; another kind comes with "
                         "the package that provides it)")
        elif err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, _known_fields(_model_at(loc)), n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else "remove it"
            lines.append(f"{where}unknown key '{dotted}': {fix}")
        else:
            got = err.get("input")
            if isinstance(got, str) and is_store_url(got):  # never echo a password back
                got = without_password(got)
            lines.append(f"{where}'{dotted}': {err['msg']} (got {got!r})")
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


def demo_context(prometheus_url: str | None = None) -> Context:
    """The built-in fleet: libvirt test-driver hosts shipped with the package, and the demo's
    own Prometheus (`console.demo.prometheus`) for metrics when its URL is given."""
    libvirt = registry.kind("libvirt").config
    backends = [libvirt.model_validate({"kind": "libvirt", "name": name, "uri": uri})
                for name, uri in demo.host_uris()]
    if prometheus_url:
        prometheus = registry.kind("prometheus").config
        backends.append(prometheus.model_validate(
            {"kind": "prometheus", "name": "demo-prometheus", "url": prometheus_url}))
    return Context(backends=backends, poll_interval_s=2.0)


def is_builtin_demo(settings: Settings, name: str) -> bool:
    """True when `name` opens the built-in demo fleet (no context of that name in the file)."""
    return name == DEMO_CONTEXT and DEMO_CONTEXT not in settings.contexts


def resolve_context(settings: Settings, name: str | None) -> tuple[str, Context]:
    """Pick the context to open: the flag, else `default_context`, else the demo fleet.
    Its `store` is the one it opens (its own, else the top-level one)."""
    contexts = dict(settings.contexts)
    contexts.setdefault(DEMO_CONTEXT, demo_context())
    chosen = name or settings.default_context or (
        next(iter(settings.contexts)) if settings.contexts else DEMO_CONTEXT)
    if chosen not in contexts:
        hint = difflib.get_close_matches(chosen, list(contexts), n=1)
        suggestion = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(sorted(contexts))}"
        raise ConfigError(Code.CONFIG_UNKNOWN_CONTEXT, repr(chosen), suggestion)
    context = contexts[chosen]
    if context.store is None and settings.store is not None:  # the context carries its store
        context = context.model_copy(update={"store": settings.store})
    return chosen, context
