"""Live training loss and held-out bits per character, drawn in the terminal with plotext."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class LossPlot(PlotextPlot):
    """Two lines against the step: training loss (nats/token) and held-out bits per char."""

    DEFAULT_CSS = "LossPlot { height: 12; min-height: 8; }"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss: list[tuple[float, float]] = []
        self.bpc: list[tuple[float, float]] = []

    def on_mount(self) -> None:
        self.replot()

    def clear_points(self) -> None:
        self.loss.clear()
        self.bpc.clear()
        self.replot()

    def add_point(self, step: float, loss: float | None = None, bits_per_char: float | None = None) -> None:
        if loss is not None:
            self.loss.append((step, float(loss)))
        if bits_per_char is not None:
            self.bpc.append((step, float(bits_per_char)))
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss (train) · bits/char (held-out)")
        plt.xlabel("step")
        if self.loss:
            xs, ys = zip(*self.loss)
            plt.plot(list(xs), list(ys), label="loss", marker="braille")
        if self.bpc:
            xs, ys = zip(*self.bpc)
            plt.plot(list(xs), list(ys), label="bits/char", marker="braille")
        self.refresh()
