"""The catalog's standard codes (codes/rxnorm.yaml): the RxNorm ingredient concept
(RxCUI) of each ingredient a public source confirms, so that the FHIR API can code a
medication the way an EHR does and resolve an EHR's codes back to the catalog.

The file is a list of blocks, each naming its source and the date it was read:

    - source: <source id>
      retrieved: 2026-12-05
      codes: {diazepam: "3322", ...}

A code is a quoted string of digits. An unknown drug or source, a drug coded twice
and a code given to two drugs are problems, reported with the file and entry.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.domain.catalog import Drug, Source
from service.knowledge.reading import Problems, check_sources, read_yaml

RXNORM_FILE = "codes/rxnorm.yaml"
_BLOCK_KEYS = {"source", "retrieved", "codes"}


def read_rxnorm(
    root: Path, drugs: Mapping[str, Drug], sources: Mapping[str, Source], problems: Problems
) -> dict[str, str]:
    """Drug id -> RxCUI, from every block of the file (none when there is no file)."""
    path = root / RXNORM_FILE
    if not path.is_file():
        return {}
    blocks = read_yaml(path) or []
    if not isinstance(blocks, list):
        problems.add(RXNORM_FILE, "give a list of blocks {source, retrieved, codes}")
        return {}
    codes: dict[str, str] = {}
    owners: dict[str, str] = {}
    for index, block in enumerate(blocks):
        where = f"{RXNORM_FILE}: block {index + 1}"
        if not isinstance(block, Mapping) or set(block) != _BLOCK_KEYS:
            problems.add(where, "give exactly {source, retrieved, codes}")
            continue
        check_sources(where, (str(block["source"]),), sources, problems)
        if not isinstance(block["retrieved"], datetime.date):
            problems.add(where, f"retrieved is a date (YYYY-MM-DD), not {block['retrieved']!r}")
        _read_block(where, block["codes"], drugs, codes, owners, problems)
    return codes


def _read_block(
    where: str,
    raw: Any,
    drugs: Mapping[str, Drug],
    codes: dict[str, str],
    owners: dict[str, str],
    problems: Problems,
) -> None:
    if not isinstance(raw, Mapping):
        problems.add(where, "codes is a mapping of drug id to RxCUI")
        return
    for drug_id, code in raw.items():
        entry = f"{where}: {drug_id}"
        if drug_id not in drugs:
            problems.add(entry, "not a catalog ingredient")
        elif not isinstance(code, str) or not code.isdigit() or not code.isascii():
            problems.add(entry, f"an RxCUI is a quoted string of digits, not {code!r}")
        elif drug_id in codes:
            problems.add(entry, f"already coded {codes[drug_id]!r}")
        elif code in owners:
            problems.add(entry, f"RxCUI {code} is already the code of {owners[code]!r}")
        else:
            codes[drug_id] = code
            owners[code] = drug_id


def with_rxnorm(drugs: Mapping[str, Drug], codes: Mapping[str, str]) -> dict[str, Drug]:
    """The drugs, each with its RxCUI where the file gives one."""
    return {
        drug_id: dataclasses.replace(drug, rxcui=codes[drug_id]) if drug_id in codes else drug
        for drug_id, drug in drugs.items()
    }
