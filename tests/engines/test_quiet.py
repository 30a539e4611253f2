"""Library prints (f5_tts's ~48 lines per model load) go to the log at DEBUG, not to stdout."""

import logging
import sys

from engines.quiet import library_output
from engines.vram import VramManager


def test_f5_model_load_prints_nothing(make_settings, capfd, caplog):
    """Was: "vocab :  ...", "token :  ..." and "model :  ..." on stdout (WARNING in a worker log)."""
    from engines import get_engine

    settings = make_settings(f5tts_device="cpu")
    engine = get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG, logger="engines.f5tts"):
        engine.load()
    out, err = capfd.readouterr()
    assert "vocab" not in out + err and "model :" not in out + err
    debug = [r for r in caplog.records if r.name == "engines.f5tts" and r.levelno == logging.DEBUG]
    assert any("vocab :" in r.getMessage() for r in debug)
    assert not [
        r
        for r in caplog.records
        if r.name == "engines.f5tts" and "vocab" in r.getMessage() and r.levelno > logging.DEBUG
    ]


def test_library_output_lines_become_debug_records(caplog):
    logger = logging.getLogger("engines.test_quiet")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        with library_output(logger):
            print("first line\nsecond", end="")
            print(" line")
            print("", flush=True)
            sys.stderr.write("progress 10%\rprogress 100%\n")
            print("unterminated", end="")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "[stdout] first line",
        "[stdout] second line",
        "[stderr] progress 10%",
        "[stderr] progress 100%",
        "[stdout] unterminated",
    ]
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


def test_streams_are_restored_after_an_error(caplog):
    out, err = sys.stdout, sys.stderr
    try:
        with library_output(logging.getLogger("engines.test_quiet")):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert (sys.stdout, sys.stderr) == (out, err)
