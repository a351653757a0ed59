"""A context's templates, looked up by name with a "did you mean", and shown in a list."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pydantic import ByteSize, TypeAdapter, ValidationError

from console.config import Context, TemplateConfig
from console.errors import Code, NovaError

_SIZE = TypeAdapter(ByteSize)


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """One template as `novacron template list` and the New VM form show it."""

    name: str
    kind: str
    vcpus: int
    memory_bytes: int
    disk_bytes: int
    source: str
    """What it is made from, in the kind's words (pool/base image, AMI, template VM)."""
    description: str


def get(context: Context, name: str) -> TemplateConfig:
    """The template `name`; NOVA-1001 naming the known ones otherwise."""
    if name in context.templates:
        return context.templates[name]
    known = sorted(context.templates)
    hint = difflib.get_close_matches(name, known, n=1)
    fix = (f"did you mean {hint[0]!r}?" if hint else
           f"known: {', '.join(known)}" if known else
           "this context has no templates: add a [contexts.<name>.templates.<template>] table")
    raise NovaError(Code.CONFIG_INVALID, f"no template {name!r}", fix)


def rows(context: Context) -> list[TemplateRow]:
    result = []
    for name, t in sorted(context.templates.items()):
        fields = t.fields()
        source = "/".join(str(fields[k]) for k in ("pool", "base_volume") if fields.get(k)) or (
            next((str(fields[k]) for k in ("ami", "image", "template_vm") if fields.get(k)), ""))
        if fields.get("instance_type"):  # EC2: the type is the size
            source += f" ({fields['instance_type']})"
        result.append(TemplateRow(name, t.kind, t.vcpus, int(t.memory), int(t.disk), source,
                                  t.description))
    return result


def parse_size(text: str) -> int:
    """'8GiB', '512MiB', '2G' (binary units: what an operator means for memory) → bytes."""
    cleaned = text.strip()
    if cleaned[-1:].upper() in "KMGT" and cleaned[-1:].isalpha():
        cleaned += "iB"  # 8G means 8 GiB here, not 8e9 bytes
    try:
        return int(_SIZE.validate_python(cleaned))
    except ValidationError:
        raise ValueError(f"not a size: {text!r} (e.g. 512MiB, 8GiB)") from None
