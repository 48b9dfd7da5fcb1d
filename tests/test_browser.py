"""Pages as a reader sees them: a report and a documentation page rendered in headless Chromium.

Chromium (Debian's ``chromium`` package, installed by ``.ci/run``) is driven through the Chrome
DevTools protocol over ``--remote-debugging-pipe`` with the standard library only. Each page
is opened from disk (``file://``, as a reader opens a report), MathJax is awaited when the
page has it, and the test reads the rendered text and every image from the live DOM:

- the math is typeset: no raw ``\\(``, ``\\[`` or ``$$`` left in the visible text, and the
  typeset output is there (MathJax's ``mjx-container`` in the docs, the report's math images),
- every ``<img>`` loaded (``complete`` and ``naturalWidth > 0``).

Required in CI (``CI=true``): a missing Chromium fails there; elsewhere the tests are
skipped with a message saying how to install it.
"""

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 60.0

#: what the page shows: visible text, typeset math, and each image's load state
PROBE = """(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.onload = img.onerror = done; })));
  return JSON.stringify({
    text: document.body.innerText,
    mathjax: document.querySelectorAll("mjx-container").length,
    math_images: document.querySelectorAll("img.math").length,
    images: [...document.images].map(img => ({
      src: img.getAttribute("src").slice(0, 80), complete: img.complete,
      width: img.naturalWidth })),
  });
})()"""


def _chromium() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        message = (
            "headless Chromium not found: install it with `apt-get install -y chromium` "
            "(Debian; .ci/run does this in CI)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    return found


class Chromium:
    """A headless Chromium spoken to over the DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            "about:blank",
        ]

        def child_fds():
            # the browser reads commands on fd 3 and writes replies on fd 4; copy both ends
            # out of the way first so that neither dup2 closes the other
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        # os.pipe's ends are not inherited (PEP 446); fds 3 and 4 made by dup2 are, and
        # close_fds=False keeps them open through exec
        self.proc = subprocess.Popen(
            args,
            close_fds=False,
            preexec_fn=child_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._id = 0

    def send(self, method: str, params: dict | None = None, session: str | None = None):
        """Send one command and return its result (events met on the way are dropped)."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self, deadline: float, method: str) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(remaining, 0.0))
            if not ready:
                raise TimeoutError(f"Chromium did not answer {method} in {TIMEOUT} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def render(self, page: Path) -> dict:
        """Open ``page`` in a new tab, wait for it, and return what :data:`PROBE` reads."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # wait for the load event
            state = self.send("Runtime.evaluate", {"expression": "document.readyState"}, session)[
                "result"
            ]["value"]
            if state == "complete":
                break
            time.sleep(0.1)
        result = self.send(
            "Runtime.evaluate",
            {"expression": PROBE, "awaitPromise": True, "returnByValue": True},
            session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{page}: {result['exceptionDetails']}")
        self.send("Target.closeTarget", {"targetId": target})
        return json.loads(result["result"]["value"])

    def close(self):
        """Close the browser (and wait for it)."""
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def assert_typeset_and_loaded(shown: dict, page: str):
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in shown["text"], f"{page}: raw {raw!r} in the rendered text"
    assert shown["images"], f"{page}: no image"
    broken = [img["src"] for img in shown["images"] if not (img["complete"] and img["width"])]
    assert not broken, f"{page}: images that did not load: {broken}"


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    """A report of a small sampled two-cell-row field model, with notes, math and figures."""
    import pymc as pm

    import bayesinv
    from bayesinv import Grid2D
    from bayesinv.diagnostics import plot_field_maps

    rng = np.random.default_rng(11)
    grid = Grid2D(nx=3, nz=2, dx=10.0, dz=10.0)
    stations = np.linspace(0.0, 30.0, 8)
    kernel = np.exp(-0.5 * ((stations[:, None] - np.tile(grid.x_centers, 2)) / 8.0) ** 2)
    truth = rng.normal(size=grid.size)
    data = kernel @ truth + 0.1 * rng.normal(size=stations.size)
    coords = {"m_z": grid.z_centers, "m_x": grid.x_centers, "g_obs": np.arange(8)}
    with pm.Model(coords=coords) as model:
        m = pm.Normal("m", 0.0, 1.0, dims=("m_z", "m_x"))
        mu = pm.math.dot(kernel, m.ravel())
        pm.Normal("g", mu, 0.1, observed=data, dims="g_obs")
    idata = bayesinv.sample(model, draws=200, tune=200, chains=2, random_seed=3)
    out = tmp_path_factory.mktemp("report")
    plot_field_maps(grid, {"truth": truth}, out / "maps.png", shared=[("truth",)])
    bayesinv.report(
        idata,
        out,
        fields={"m": grid},
        truth={"m": truth},
        model=model,
        seed=3,
        units={"m": "anomaly (1)", "g": "datum (1)"},
        notes=[("What the check says", "Residuals $z_i = (y_i - \\bar y_i)/s_i$ near 1.")],
        figures=[("maps.png", "truth")],
    )
    return out / "index.html"


def test_report_page_renders_math_and_every_image(browser, report_page):
    shown = browser.render(report_page)
    assert_typeset_and_loaded(shown, "report")
    assert shown["math_images"] >= 1  # the note's math, typeset when the page was written
    assert "$" not in shown["text"]
    assert len(shown["images"]) >= 4  # notes math, data fit, field maps, study figure


@pytest.fixture(scope="module")
def docs_page(tmp_path_factory):
    """The concepts page, built alone (no API pages, no notebooks: a few seconds)."""
    out = tmp_path_factory.mktemp("docs")
    exclude = "_build,scripts,conf.py,api,tutorials,jupyter_execute,**.ipynb_checkpoints"
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", "-q",
        "-D", f"exclude_patterns={exclude}", "-D", "autosummary_generate=0",
        "-d", str(out / "doctrees"), str(DOCS), str(out / "html"), str(DOCS / "concepts.md"),
    ]  # fmt: skip
    env = {**os.environ, "BAYESINV_DOCS_EXECUTE": "off", "BAYESINV_DOCS_API": "off"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    page = out / "html" / "concepts.html"
    assert proc.returncode == 0 and page.is_file(), proc.stderr[-5000:]
    return page


def test_docs_page_typesets_its_equations_offline(browser, docs_page):
    html = docs_page.read_text()
    assert "cdn." not in html.lower() and "_static/mathjax/" in html
    assert html.count('class="math') >= 2  # the page has equations to typeset
    shown = browser.render(docs_page)
    assert shown["mathjax"] >= html.count('class="math')
    assert_typeset_and_loaded(shown, "concepts.html")


def test_the_checks_catch_raw_math_and_broken_images(browser, tmp_path):
    """Negative control: a page whose math is not typeset and whose image is missing fails."""
    page = tmp_path / "raw.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>Raw \\(x^2\\) and $$y$$.</p>"
        '<img src="missing.png" alt="missing"></body></html>'
    )
    shown = browser.render(page)
    assert "\\(x^2\\)" in shown["text"] and shown["mathjax"] == 0
    assert shown["images"] == [{"src": "missing.png", "complete": True, "width": 0}]
    with pytest.raises(AssertionError, match="raw"):
        assert_typeset_and_loaded(shown, "raw.html")
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png"></body></html>')
    with pytest.raises(AssertionError, match="did not load"):
        assert_typeset_and_loaded(browser.render(page), "raw.html")
