"""The HTML page of :func:`bayesinv.diagnostics.report.report`: one self-contained file.

The page loads nothing from the network: figures are files beside it, and the math in notes
(``$...$``) is rendered when the page is written, by matplotlib's mathtext, into inline SVG
images (no MathJax, no CDN; the page reads the same offline).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
import pandas as pd

#: file endings shown inline as images; any other figure entry is linked
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")

_CSS = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
.pass { background: #e6f4e6; border-left: 6px solid #2a7; padding: 0.6em; }
.fail { background: #fbe9e9; border-left: 6px solid #c33; padding: 0.6em; }
.warn { color: #a40; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
img.math { border: none; margin: 0; vertical-align: middle; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
"""

_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL)

_PPC_TEXT = (
    "<p>RMS z: root-mean-square standardised residual (about 1 for a good fit); "
    "coverage: share of data inside the 50% / 90% predictive bands; frac_extreme: share "
    "of data with two-sided tail probability &lt; 5%; p_value: tail probability of the "
    "squared-residual discrepancy (near 0: misfit; near 1 is usual when the model has "
    "more parameters than data, since the data are used twice).</p>"
)


def math_svg(tex: str) -> str:
    r"""Render TeX math (matplotlib's mathtext subset) to an SVG document.

    Parameters
    ----------
    tex : str
        Math without the dollar signs, e.g. ``r"\sigma^2"``.

    Returns
    -------
    str
        The SVG text (glyphs as paths, so no font is needed to show it; same input, same
        bytes).
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "bayesinv", "svg.fonttype": "path"}):
        fig = Figure(figsize=(0.1, 0.1))
        fig.text(0.0, 0.0, f"${tex}$", fontsize=12)
        buf = io.BytesIO()
        fig.savefig(
            buf,
            format="svg",
            bbox_inches="tight",
            pad_inches=0.01,
            transparent=True,
            metadata={"Date": None},
        )
    return buf.getvalue().decode()


def text_html(text: str, where: str) -> str:
    r"""Turn plain text with ``$...$`` math into HTML paragraphs.

    Parameters
    ----------
    text : str
        Paragraphs separated by blank lines; ``$...$`` is math (``\$`` a dollar sign);
        everything else is escaped.
    where : str
        What the text is (e.g. ``"report: notes[0]"``), for error messages.

    Returns
    -------
    str
        ``<p>`` elements, math as inline SVG images with the TeX as ``alt`` text.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out = []
    for paragraph in paragraphs:
        parts, last = [], 0
        for match in _MATH.finditer(paragraph):
            parts.append(_escape(paragraph[last : match.start()]))
            tex = match.group(1)
            try:
                svg = math_svg(tex)
            except ValueError as err:
                raise ValueError(f"{where}: cannot render the math ${tex}$: {err}") from None
            data = base64.b64encode(svg.encode()).decode()
            alt = html.escape(tex, quote=True)
            parts.append(f'<img class="math" alt="{alt}" src="data:image/svg+xml;base64,{data}">')
            last = match.end()
        parts.append(_escape(paragraph[last:]))
        out.append("<p>" + "".join(parts) + "</p>")
    return "\n".join(out)


def _escape(text: str) -> str:
    return html.escape(text.replace("\\$", "$"))


def table_html(df: pd.DataFrame | None, floatfmt: str = "{:.4g}") -> str:
    """Render a table, or "not available" for none."""
    if df is None or df.empty:
        return "<p><em>not available</em></p>"

    def fmt(v):
        if isinstance(v, float | np.floating):
            return floatfmt.format(v)
        return str(v)

    return df.to_html(formatters=dict.fromkeys(df.columns, fmt), escape=True, border=0)


def _image(src: str, caption: str = "") -> str:
    e = html.escape
    cap = f"<figcaption>{e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{e(src)}" alt="{e(caption or src)}">{cap}</figure>'


def figure_html(path: str, caption: str = "") -> str:
    """Show an image inline, or link any other file (e.g. another report's page)."""
    if path.lower().endswith(IMAGE_SUFFIXES):
        return _image(path, caption or path)
    e = html.escape
    text = f"{e(caption)} (<code>{e(path)}</code>)" if caption else f"<code>{e(path)}</code>"
    return f'<p><a href="{e(path)}">{text}</a></p>'


def _convergence(conv) -> list[str]:
    e = html.escape
    parts = [
        "<h2>Convergence</h2>",
        f'<p class="{"pass" if conv.passed else "fail"}">{e(conv.verdict)}</p>',
    ]
    if conv.draws == "independent":
        parts.append(
            "<p>These are independent draws from a Gaussian approximation (a Laplace / "
            "Gauss-Newton linearisation about the most probable model). R-hat, effective "
            "sample size, divergences and E-BFMI diagnose Markov chains and do not apply. "
            "What applies: the approximation's own convergence (the verdict above), the "
            "posterior predictive checks and LOO below and, for a synthetic problem, the "
            "coverage of the truth. The Gaussian is only as good as the linearisation: "
            "with a strongly nonlinear forward model, check it against MCMC.</p>"
        )
    else:
        t = conv.thresholds
        parts += [
            f"<p>Thresholds: R-hat &lt; {t.rhat_max}, bulk ESS &ge; {t.ess_bulk_min:.0f}, "
            f"tail ESS &ge; {t.ess_tail_min:.0f}, divergences &le; {t.max_divergences}, "
            f"E-BFMI &gt; {t.bfmi_min}. Worst parameters:</p>",
            table_html(conv.table),
        ]
    if conv.left_out:
        fed = ", ".join(f"{e(k)} (feeds {e(v)})" for k, v in sorted(conv.left_out.items()))
        parts.append(
            "<p>Internal variables left out of the check, in favour of the variables they "
            f"feed: {fed}.</p>"
        )
    return parts


def page_html(title, conv, ppc, loo, truth_table, figures, prov, files, notes) -> str:
    """Write the report page.

    ``figures`` maps ``"ppc"`` and ``"fields"`` to lists of file names, ``"study"`` to
    ``(path, caption)`` pairs and ``"other"`` to names of PNGs found in the folder;
    ``notes`` is a list of ``(heading, html)`` pairs, the HTML made by :func:`text_html`.
    """
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for heading, body in notes:
        parts += [f"<h2>{e(heading)}</h2>", body]
    parts += _convergence(conv)
    parts += ["<h2>Posterior predictive checks (per modality)</h2>", _PPC_TEXT]
    parts += [table_html(ppc), *(_image(name) for name in figures["ppc"])]
    parts += ["<h2>Leave-one-out cross-validation (PSIS-LOO, per modality)</h2>"]
    parts.append(table_html(None if loo is None else loo.drop(columns="warning")))
    if loo is not None:
        for name, msg in loo["warning"].items():
            if msg:
                parts.append(f'<p class="warn">{e(str(name))}: {e(msg)}</p>')
    parts += ["<h2>Known truth</h2>", table_html(truth_table), "<h2>Fields</h2>"]
    if not figures["fields"]:
        parts.append("<p><em>no gridded fields given</em></p>")
    parts += [_image(name) for name in figures["fields"]]
    if figures["study"]:
        parts.append("<h2>Figures of the study</h2>")
        parts += [figure_html(path, caption) for path, caption in figures["study"]]
    if figures["other"]:
        parts.append("<h2>Other figures in this folder</h2>")
        parts += [_image(name) for name in figures["other"]]
    parts += [
        "<h2>Files</h2><ul>",
        *[f'<li><a href="{e(f)}">{e(f)}</a></li>' for f in files],
        "</ul>",
        "<h2>Provenance</h2>",
        f"<pre>{e(json.dumps(prov, indent=2, default=str))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
