"""Progress bars for the long loops (price iteration, ADMM, a day of power flows), on request only."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["progress_bar"]


def progress_bar(progress: bool, total: int, desc: str) -> tqdm | None:
    """Return a tqdm bar of ``total`` steps labelled ``desc`` if ``progress``, else None.

    tqdm's ``auto`` bar is a widget in Jupyter and text in a terminal; it is imported only
    when asked for, and the bar disappears when it closes (``leave=False``).
    """
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)
