"""``cmni.csv``: one row per CMNI probe of a run, its columns, reader and writer.

The file lives in the run folder (:attr:`experiment.run_folder.RunFolder.cmni_csv`); the
CMNI callback of a PPO run and a supervised run's training loop both append to it, the
evaluation and the sweep report read it. Torch-free.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from experiment.atomic import atomic_write_text
from experiment.run_folder import CMNI_CSV, RunError, one_line


def cmni_csv_row(
    step: int,
    cmni_total: float,
    cmni_per_layer: Mapping[str, float],
    candidates: int,
    candidates_per_layer: Mapping[str, int],
    p_value: float,
    z_score: float,
    null_untrained: float,
    null_untrained_sd: float,
    excess_cmni: float,
    z_untrained: float,
    candidates_null_mean: float,
    candidates_null_sd: float,
    null_permutation_mean: float,
    overlap: Mapping[str, float],
    mean_episode_score: float,
) -> dict[str, float]:
    """One ``cmni.csv`` row (column -> value), in column order.

    - ``step``: agent-steps the probed policy was trained on.
    - ``cmni_total``, ``cmni_<layer>``: CMNI over all probed units, per layer.
    - ``candidates``, ``candidates_<layer>``: mirror candidates (both deltas > 0).
    - ``p_value``, ``z_score``: permutation test (scenario labels shuffled).
    - ``null_untrained``, ``null_untrained_sd``: mean and sample sd of the CMNI of K
      untrained networks of the same architecture; ``excess_cmni`` = cmni_total - mean,
      ``z_untrained`` = excess / sd; ``candidates_null_mean``, ``candidates_null_sd``: the
      same null for the candidate count.
    - ``null_permutation_mean``: mean CMNI under shuffled labels.
    - ``overlap_<layer>``, ``overlap_all``: self/other overlap (egocentric observations only;
      ``overlap`` is empty otherwise).
    - ``mean_episode_score``: points per player over the last training episodes (NaN when
      unknown, e.g. a checkpoint probed after a restart).
    """
    row: dict[str, float] = {"step": int(step), "cmni_total": float(cmni_total)}
    row.update({f"cmni_{n}": float(v) for n, v in cmni_per_layer.items()})
    row["candidates"] = int(candidates)
    row.update({f"candidates_{n}": int(v) for n, v in candidates_per_layer.items()})
    row.update(
        p_value=float(p_value), z_score=float(z_score), null_untrained=float(null_untrained),
        null_untrained_sd=float(null_untrained_sd), excess_cmni=float(excess_cmni), z_untrained=float(z_untrained),
        candidates_null_mean=float(candidates_null_mean), candidates_null_sd=float(candidates_null_sd),
        null_permutation_mean=float(null_permutation_mean),
    )  # fmt: skip
    row.update({f"overlap_{n}": float(v) for n, v in overlap.items()})
    row["mean_episode_score"] = float(mean_episode_score)
    return row


def cmni_csv_columns(layers: Sequence[str], egocentric: bool) -> list[str]:
    """Header of ``cmni.csv`` for the given probed layers (the keys of :func:`cmni_csv_row`)."""
    zeros = dict.fromkeys(layers, 0)
    overlap = {**zeros, "all": 0} if egocentric else {}
    return list(cmni_csv_row(0, 0, zeros, 0, zeros, *[0] * 9, overlap, 0))


def layers_from_cmni_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The probed layer names in a ``cmni.csv`` header (inverse of :func:`cmni_csv_columns`)."""
    return tuple(c[len("cmni_"):] for c in columns if c.startswith("cmni_") and c != "cmni_total")


@dataclass(frozen=True)
class CmniTable:
    """The content of a ``cmni.csv``.

    Attributes:
        columns: the header.
        rows: one dict per probe (column -> float, NaN for an empty cell), sorted by
            step; a step written twice keeps its last row.
        skipped: one line per row that could not be read (non-numeric, truncated).
    """

    columns: list[str]
    rows: list[dict[str, float]]
    skipped: list[str]


def read_cmni_csv(path: Path | str) -> CmniTable:
    """Read a ``cmni.csv``; rows that are not all numbers, or of the wrong length, are
    skipped and reported in :attr:`CmniTable.skipped` (an empty cell reads as NaN).

    Raises:
        RunError: the file is missing, has no header, or lacks ``step`` / ``cmni_total``.
    """
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            lines = list(csv.reader(handle))
    except (OSError, csv.Error) as error:
        raise RunError(f"cannot read {path}: {one_line(error)}") from None
    if not lines or not lines[0]:
        raise RunError(f"{path} is empty; expected the {CMNI_CSV} header")
    header = lines[0]
    missing = [c for c in ("step", "cmni_total") if c not in header]
    if missing:
        raise RunError(f"{path} lacks the column(s) {missing}; is it a {CMNI_CSV}?")
    by_step: dict[int, dict[str, float]] = {}
    skipped: list[str] = []
    for number, values in enumerate(lines[1:], start=2):
        if not values:
            continue
        try:
            if len(values) != len(header):
                raise ValueError(f"{len(values)} cells, expected {len(header)}")
            row = {name: float(v) if v.strip() else math.nan for name, v in zip(header, values)}
            if not math.isfinite(row["step"]):
                raise ValueError("no step")
        except ValueError as error:
            skipped.append(f"{path.name} line {number}: {one_line(error)}")
            continue
        by_step[int(row["step"])] = row
    return CmniTable(header, [by_step[s] for s in sorted(by_step)], skipped)


def write_cmni_csv(path: Path | str, columns: Sequence[str], rows: Sequence[Mapping[str, float]]) -> Path:
    """Replace ``path`` (atomically) by a ``cmni.csv`` with ``columns`` and ``rows``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(c, row[c]) for c in columns] for row in rows])
    return atomic_write_text(path, buffer.getvalue(), fsync=False)


def _cell(column: str, value: float) -> float | int:
    """Counts (``step``, ``candidates*``) as integers, so a rewritten file reads as the original."""
    is_count = column == "step" or (column.startswith("candidates") and "null" not in column)
    return int(value) if is_count and math.isfinite(value) and float(value).is_integer() else value
