"""Charts as PNG bytes (matplotlib, Agg backend: no display, safe in a server and in tests).

matplotlib is imported on first use: it takes a moment to load and only /stats needs it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from threading import Lock

_LOCK = Lock()  # pyplot keeps global state: one figure at a time


def weekly_chart(
    week_labels: Sequence[str],
    top: dict[str, Sequence[int]],
    bottom: dict[str, Sequence[int]],
    title: str,
    titles: tuple[str, str],
) -> bytes:
    """Two panels over the same weeks: people (members, active) above, activity (check-ins, events)
    below. ``top`` and ``bottom`` map a legend label to one number per week."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with _LOCK:
        fig, (upper, lower) = plt.subplots(2, 1, figsize=(9, 6), dpi=100, sharex=True)
        try:
            xs = list(range(len(week_labels)))
            for label, values in top.items():
                upper.plot(xs, list(values), marker="o", label=label)
            upper.set_title(titles[0], fontsize=10)
            _finish(upper)
            width = 0.8 / max(1, len(bottom))
            for i, (label, values) in enumerate(bottom.items()):
                lower.bar([x + (i - (len(bottom) - 1) / 2) * width for x in xs], list(values), width=width,
                          label=label)
            lower.set_title(titles[1], fontsize=10)
            _finish(lower)
            lower.set_xticks(xs)
            lower.set_xticklabels(list(week_labels), rotation=45, ha="right", fontsize=8)
            fig.suptitle(title)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            return buffer.getvalue()
        finally:
            plt.close(fig)


def _finish(axes) -> None:
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    axes.set_ylim(bottom=0)
    axes.yaxis.get_major_locator().set_params(integer=True)
