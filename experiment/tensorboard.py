"""What a run shows in TensorBoard besides its scalars: a custom-scalars layout that puts the
CMNI and both of its null bands on one chart, and (for sweep runs) the run's factors in the
HParams tab. torch is imported only inside the writers, so this module stays torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

#: the CMNI probe's own tags (logged by :class:`cmni.callback.CMNICallback`)
CMNI_TAG = "cmni/total"
UNTRAINED_MEAN_TAG = "cmni/null_untrained"
PERMUTATION_MEAN_TAG = "cmni/null_permutation_mean"
#: the band edges, mean -/+ BAND_SD standard deviations of each null
UNTRAINED_BAND_TAGS = ("cmni/null_untrained_low", "cmni/null_untrained_high")
PERMUTATION_BAND_TAGS = ("cmni/null_permutation_low", "cmni/null_permutation_high")
BAND_SD = 2.0
#: the metrics the HParams tab shows beside each sweep run's factors
HPARAM_METRICS = ("cmni/excess", "cmni/total", "cmni/z_untrained", "game/score", "game/help_rate_partner_distressed")


def band_records(
    untrained_mean: float, untrained_sd: float, permutation_mean: float, permutation_sd: float
) -> dict[str, float]:
    """Tag -> value of the two band edges at one probe."""
    return {
        UNTRAINED_BAND_TAGS[0]: untrained_mean - BAND_SD * untrained_sd,
        UNTRAINED_BAND_TAGS[1]: untrained_mean + BAND_SD * untrained_sd,
        PERMUTATION_BAND_TAGS[0]: permutation_mean - BAND_SD * permutation_sd,
        PERMUTATION_BAND_TAGS[1]: permutation_mean + BAND_SD * permutation_sd,
    }


def cmni_layout() -> dict[str, dict[str, list[Any]]]:
    """The custom-scalars layout (``SummaryWriter.add_custom_scalars`` format): one chart with
    the CMNI, the untrained null's mean and band and the permutation null's mean and band,
    plus a margin chart per band."""
    lines = [CMNI_TAG, UNTRAINED_MEAN_TAG, *UNTRAINED_BAND_TAGS, PERMUTATION_MEAN_TAG, *PERMUTATION_BAND_TAGS]
    return {
        "CMNI": {
            f"CMNI, untrained and permutation nulls (mean +/- {BAND_SD:g} sd)": [
                "Multiline",
                [f"^{t}$" for t in lines],
            ],
            "untrained null band": ["Margin", [UNTRAINED_MEAN_TAG, *UNTRAINED_BAND_TAGS]],
            "permutation null band": ["Margin", [PERMUTATION_MEAN_TAG, *PERMUTATION_BAND_TAGS]],
        }
    }


def write_layout(logger: Any) -> bool:
    """Write :func:`cmni_layout` through the TensorBoard output of an SB3 ``logger``;
    False when it has none."""
    from stable_baselines3.common.logger import TensorBoardOutputFormat

    for output in getattr(logger, "output_formats", []):
        if isinstance(output, TensorBoardOutputFormat):
            output.writer.add_custom_scalars(cmni_layout())
            output.writer.flush()
            return True
    return False


def hparam_value(value: Any) -> int | float | str | bool:
    """A factor level as HParams takes it: numbers and text as they are, lists as ``17-17``."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def write_hparams(tb_dir: Path | str, hparams: Mapping[str, Any]) -> None:
    """Write ``hparams`` (name -> level) as an HParams session into ``tb_dir``, with the
    :data:`HPARAM_METRICS` as its metrics (TensorBoard reads their values from the run's scalars)."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summaries

    values = {name: hparam_value(v) for name, v in hparams.items()}
    experiment, start, end = hparams_summaries(values, dict.fromkeys(HPARAM_METRICS, 0.0))
    writer = SummaryWriter(log_dir=str(tb_dir))
    try:
        for summary in (experiment, start, end):
            writer.file_writer.add_summary(summary)
    finally:
        writer.close()
