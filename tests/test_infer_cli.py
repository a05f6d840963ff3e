"""``taalkit chat`` in a real pseudo-terminal: the reply streams, Ctrl-C stops it and keeps the partial text."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time

from kit.infer import conversations as store
from kit.infer.default_model import default_model_gguf


class Terminal:
    """A child process on a pty, read until a marker appears (a deadline, not a timing assertion)."""

    def __init__(self, argv, env):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     preexec_fn=self._controlling_terminal)
        os.close(slave)
        self.seen = b""

    @staticmethod
    def _controlling_terminal():
        # A new session whose controlling terminal is the pty, so ^C becomes SIGINT as in a real terminal.
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def read_more(self, at_least: int, deadline_s: float = 120.0) -> None:
        target = len(self.seen) + at_least
        end = time.monotonic() + deadline_s
        while len(self.seen) < target and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                self.seen += os.read(self.master, 4096)

    def read_until(self, marker: bytes, deadline_s: float = 120.0) -> bytes:
        end = time.monotonic() + deadline_s
        while marker not in self.seen and time.monotonic() < end and self.proc.poll() is None:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    break
        assert marker in self.seen, self.seen.decode(errors="replace")[-2000:]
        return self.seen

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def test_chat_streams_and_ctrl_c_keeps_the_partial_reply(workspace):
    env = dict(os.environ, TAALKIT_WORKSPACE=str(workspace.root), PYTHONUNBUFFERED="1")
    term = Terminal([sys.executable, "-m", "kit.cli", "chat", "--model", str(default_model_gguf()),
                     "--n-ctx", "512", "--threads", "1", "--max-tokens", "400", "--temperature", "0",
                     "--system", "You write long, detailed stories."], env)
    try:
        term.read_until(b"you> ")
        term.send(b"Write a long story about a cat who travels around the world.\r")
        term.read_until(b"model> ")
        term.read_more(20)  # some of the reply has streamed in
        term.send(b"\x03")  # Ctrl-C, as the terminal driver delivers it: SIGINT to the foreground
        term.read_until(b"[stopped")
        term.read_until(b"you> ")  # the chat goes on after a stop
        term.send(b"\x04")  # Ctrl-D leaves
        term.proc.wait(timeout=60)
    finally:
        term.close()
    assert term.proc.returncode == 0
    (conv,) = store.list_conversations(workspace)
    messages = store.conversation(workspace, conv["id"])["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    partial = messages[1]["content"]
    assert partial  # the partial reply was kept...
    shown = term.seen.decode("utf-8", errors="replace").replace("\r\n", "\n")
    assert partial[:15] in shown  # ...and is what streamed to the terminal


def test_translate_refuses_bad_input_before_loading_a_model(tmp_path):
    """A wrong --to or a missing --file fails in one line with exit 2, without waiting for a model load."""
    import subprocess
    import sys

    exe = [sys.executable, "-m", "kit.cli"]
    ws = str(tmp_path / "w")
    subprocess.run(exe + ["init", ws, "--target", "cy"], check=True, capture_output=True)
    missing_model = ["--model", str(tmp_path / "no-such.gguf")]
    bad_to = subprocess.run(exe + ["-w", ws, "translate", "--to", "fr", "hello"] + missing_model,
                            capture_output=True, text=True)
    assert bad_to.returncode == 2 and "--to fr is neither" in bad_to.stderr
    no_file = subprocess.run(exe + ["-w", ws, "translate", "--file", str(tmp_path / "nope.txt"),
                                    "--out", str(tmp_path / "out.txt")] + missing_model,
                             capture_output=True, text=True)
    assert no_file.returncode == 2 and "nope.txt: no such file" in no_file.stderr
