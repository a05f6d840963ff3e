"""Live training loss and held-out bits per character, drawn in the terminal with plotext.

The two numbers have different units and scales, so each has its own axis (loss on the
left, bits per character on the right) and its own colour and marker: told apart without
colour too. Bits per character is measured every few steps, so its line has fewer points.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

LOSS_STYLE = {"label": "training loss (left)", "marker": "braille", "color": "cyan"}
BPC_STYLE = {"label": "held-out bits/char (right)", "marker": "dot", "color": "orange", "yside": "right"}


class LossPlot(PlotextPlot):
    """Two lines against the step: training loss (nats/token) and held-out bits per char."""

    DEFAULT_CSS = "LossPlot { height: 12; min-height: 8; }"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._dirty = False
        self.loss: list[tuple[float, float]] = []
        self.bpc: list[tuple[float, float]] = []

    #: Seconds between redraws while points stream in: plotext redraws the whole figure, and a
    #: redraw per training step would take the time the app needs to answer keys.
    REDRAW_EVERY = 0.5

    def on_mount(self) -> None:
        self.set_interval(self.REDRAW_EVERY, self._redraw_if_dirty)
        self.replot()

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self.replot()

    def clear_points(self) -> None:
        self.loss.clear()
        self.bpc.clear()
        self.replot()

    def add_point(self, step: float, loss: float | None = None, bits_per_char: float | None = None,
                  *, redraw: bool = True) -> None:
        # A resumed run re-reports from its checkpoint: a step already drawn is replaced, not doubled.
        if loss is not None:
            self.loss[:] = [p for p in self.loss if p[0] < step] + [(step, float(loss))]
        if bits_per_char is not None:
            self.bpc[:] = [p for p in self.bpc if p[0] < step] + [(step, float(bits_per_char))]
        if redraw:
            self._dirty = True  # drawn by the next tick (at most REDRAW_EVERY s late)

    def replot(self) -> None:
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("fine-tuning: lower is better")
        plt.xlabel("step")
        if self.loss:
            xs, ys = zip(*self.loss)
            plt.plot(list(xs), list(ys), **LOSS_STYLE)
        if self.bpc:
            xs, ys = zip(*self.bpc)
            plt.plot(list(xs), list(ys), **BPC_STYLE)
        self.refresh()
