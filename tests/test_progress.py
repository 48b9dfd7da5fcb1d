import io

from bayesinv import _progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_lines_at_stage_start_every_interval_and_finish():
    stream, clock = io.StringIO(), Clock()
    with _progress.reporting(stream, interval=5.0) as progress:
        progress.clock = clock
        _progress.stage("sampling")
        clock.t = 3.0
        _progress.update(100, 400)  # before the interval: no line
        clock.t = 6.0
        _progress.update(200, 400)
        clock.t = 8.0
        _progress.finish()
        _progress.finish()  # nothing open: no second line
    lines = stream.getvalue().splitlines()
    assert lines == [
        "bayesinv: sampling: started",
        "bayesinv: sampling: 200/400 draws, 6 s",
        "bayesinv: sampling: 200/400 draws, 8 s (done)",
    ]


def test_calls_outside_reporting_do_nothing(capsys):
    _progress.stage("x")
    _progress.update(1, 2)
    _progress.finish()
    assert capsys.readouterr() == ("", "")


def test_nested_reporting_restores_the_outer_reporter():
    outer, inner = io.StringIO(), io.StringIO()
    with _progress.reporting(outer):
        with _progress.reporting(inner):
            _progress.stage("inner")
        _progress.stage("outer")
    assert "inner: started" in inner.getvalue() and "inner" not in outer.getvalue()
    assert "outer: started" in outer.getvalue()
