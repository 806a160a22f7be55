#!/usr/bin/env python3
"""Build ``communes-fr.tsv.gz`` (France's communes, for place matching) from Etalab's package.

Why a generated file in the repository: the bot must start with no network and no Node.js, and a
deployment should be able to match "Die" or "26150" on day one. The source JSON is ~8.6 MB; the
columns the bot needs, gzipped, are about half a megabyte, so that is what is committed, and this
script (standard library only) is how it is remade when INSEE publishes a new year.

Source: the npm package ``@etalab/decoupage-administratif`` (code MIT; data under the Licence
Ouverte / Open Licence 2.0, from INSEE's Code officiel géographique and La Poste's postal codes).
Fetch it without installing anything, then run this script from the repository root (or pass
``--out``)::

    tmp="$(mktemp -d)" && (cd "$tmp" && npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-*.tgz)
    python content/data/build_communes.py "$tmp/package/data/communes.json"

Output: a gzipped, tab-separated file with a header line and one row per place::

    insee   name    postal_codes    departement     population      type    parent

- ``postal_codes`` are joined by a space; empty for a commune déléguée or associée, which has none
  of its own in the source (the commune it now belongs to has them).
- ``population`` is empty when unknown (communes déléguées and associées).
- ``type`` is Etalab's: ``commune-actuelle``, ``commune-deleguee``, ``commune-associee`` or
  ``arrondissement-municipal``.
- ``parent`` is the INSEE code of the commune a déléguée or associée now belongs to, or of the city
  an arrondissement municipal is part of; empty for a current commune. It lets a button say
  "Arbignieu (Arboys en Bugey)" and lets "75020" mean the 20e rather than the whole of Paris.

Kept: current communes, communes déléguées and associées (people still say "I live in Bâgé-la-Ville"
years after a merger) and the arrondissements municipaux of Paris, Lyon and Marseille. Dropped: a
commune déléguée whose name is the same as its commune nouvelle's (it would only be a duplicate
button). Rows are sorted by INSEE code and then type, so a rebuild from the same input is
byte-identical (the gzip header carries no timestamp).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

KEPT_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee", "arrondissement-municipal")
HEADER = ("insee", "name", "postal_codes", "departement", "population", "type", "parent")
DEFAULT_OUT = Path(__file__).resolve().parent / "communes-fr.tsv.gz"


def rows(communes: list[dict[str, Any]]) -> Iterator[tuple[str, ...]]:
    """Yield one TSV row per kept entry, sorted; see the module docstring for the choices."""
    current = {c["code"]: c for c in communes if c["type"] == "commune-actuelle"}
    kept = []
    for entry in communes:
        kind = entry["type"]
        if kind not in KEPT_TYPES:
            continue
        parent_code = entry.get("chefLieu") or entry.get("commune") or ""
        parent = current.get(parent_code)
        if kind in ("commune-deleguee", "commune-associee") and parent and parent["nom"] == entry["nom"]:
            continue
        codes = entry.get("codesPostaux") or []
        population = entry.get("population")
        kept.append((
            entry["code"],
            entry["nom"],
            " ".join(codes),
            entry.get("departement", ""),
            "" if population is None else str(population),
            kind,
            parent_code,
        ))
    kept.sort(key=lambda row: (row[0], KEPT_TYPES.index(row[5])))
    yield from kept


def write_tsv_gz(out: Path, data: Iterable[tuple[str, ...]]) -> int:
    """Write header and rows as a reproducible gzip (mtime 0); return the number of rows."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    count = 0
    for row in data:
        writer.writerow(row)
        count += 1
    out.write_bytes(gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0))
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("communes_json", type=Path, help="data/communes.json from the npm package")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    communes = json.loads(args.communes_json.read_text(encoding="utf-8"))
    count = write_tsv_gz(args.out, rows(communes))
    print(f"wrote {count} places to {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
