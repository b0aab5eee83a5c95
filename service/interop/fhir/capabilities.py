"""What the FHIR API serves, declared by each resource's module as it adds its routes,
so that the CapabilityStatement (/metadata) lists exactly what is served."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR search parameter type: token, reference, date, string, ...
    documentation: str


@dataclass
class ResourceCapability:
    type: str
    profile: str | None = None
    documentation: str = ""
    # FHIR TypeRestfulInteraction codes: read, vread, history-instance, search-type, create
    interactions: list[str] = field(default_factory=list)
    search_params: list[SearchParam] = field(default_factory=list)
    # Operations on the resource: (name, canonical definition URL)
    operations: list[tuple[str, str]] = field(default_factory=list)


# In the order the modules declare them.
RESOURCES: dict[str, ResourceCapability] = {}
# Whole-system interactions (e.g. "transaction").
SYSTEM_INTERACTIONS: list[str] = []


def declare(
    resource_type: str,
    *,
    interactions: list[str] | None = None,
    search_params: list[SearchParam] | None = None,
    operations: list[tuple[str, str]] | None = None,
    documentation: str = "",
) -> ResourceCapability:
    """Add to what is served for `resource_type` (each module declares its part)."""
    cap = RESOURCES.setdefault(resource_type, ResourceCapability(resource_type))
    for interaction in interactions or ():
        if interaction not in cap.interactions:
            cap.interactions.append(interaction)
    for param in search_params or ():
        if param.name not in {p.name for p in cap.search_params}:
            cap.search_params.append(param)
    for op in operations or ():
        if op not in cap.operations:
            cap.operations.append(op)
    if documentation and not cap.documentation:
        cap.documentation = documentation
    return cap


def declare_system(interaction: str) -> None:
    if interaction not in SYSTEM_INTERACTIONS:
        SYSTEM_INTERACTIONS.append(interaction)
