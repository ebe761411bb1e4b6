"""Board entry point (copied to the board as /main.py by `make deploy`)."""

from device.app import App
from device.board import Board
from shared.config import Config


def main():
    cfg = Config()
    board = Board(rate_hz=cfg["rate_hz"])
    app = App(board, cfg, calibrate=True, period_us=board.period_us)
    app.run()


main()
