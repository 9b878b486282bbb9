"""`cotmix report DIR`: a figure per sweep (PNG and SVG in DIR/report/) and one self-contained HTML
page (images inlined as data URIs) with, under each figure, what the paper claims and what was
measured here.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.experiments.report.data import find_sweeps, hostile_files
from cotmix.experiments.report.figures import kind_for, setting_line
from cotmix.files import check_output_file, starts_with, write_text_atomic
from cotmix.plotting import is_figure, save, tidy
from cotmix.registry import FIGURES

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cotmix report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; margin-top: 2em; border-top: 1px solid #ddd; padding-top: 1em; }}
img {{ max-width: 100%; }} .claim {{ color: #555; }} .measured {{ font-weight: 500; }}
.failed {{ color: #a00; }} .verdict {{ background: #f6f6f0; padding: 4px 8px; }} code {{ background: #f4f4f4; padding: 0 3px; }}
</style></head><body>
<h1>cotmix report</h1>
<p>{root} &middot; {count} sweep(s) &middot; generated {when}. Bands and error bars: 95% intervals of the mean (one seed: Wilson over the prompts; several: a bootstrap over seeds and prompts), never outside the quantity's range.</p>
{sections}
</body></html>
"""

SECTION = """<section id="{anchor}">
<h2>{name}</h2>
<p class="claim"><b>{claim_label}:</b> {claim}</p>
<img alt="{name}" src="data:image/png;base64,{png}">
<p class="measured"><b>Measured:</b> {measured}</p>
{verdict}<p>{runs} &middot; files: <code>{png_path}</code>, <code>{svg_path}</code></p>
</section>"""


def _claim(name: str) -> tuple[str, str]:
    from cotmix.experiments.studies import STUDIES

    if name in STUDIES:
        return ("Question" if name.startswith("study-") else "Paper"), STUDIES[name].claim
    return "Sweep", "a user-defined sweep (no claim attached)"


def _verdict_html(sweep) -> str:
    """The pre-registered verdict of a built-in study, computed from every run of the sweep, and the
    settings that changed after a result (cotmix.experiments.studies); nothing for a user's sweep."""
    from cotmix.experiments.studies import STUDIES
    from cotmix.experiments.verdicts import study_verdict

    study = STUDIES.get(sweep.name)
    if study is None:
        return ""
    result = study_verdict(study, sweep)
    if result is None:
        return '<p class="verdict"><b>Pre-registered verdict:</b> none (an open question with no hypothesis)</p>\n'
    page = (f'<p class="verdict"><b>Pre-registered verdict: {html.escape(result["verdict"])}.</b> '
            f'{html.escape(result["line"])}</p>\n')
    if study.history:
        page += f'<p class="verdict">Settings changed after a result: {html.escape("; ".join(study.history))}</p>\n'
    return page


def _warnings_html(sweep) -> str:
    """The warnings each run printed (kept in its summary.json), folded under the run count: in a
    sweep they went to a worker's stderr, where nobody reads them."""
    items = [f"<li><code>{html.escape(run.name)}</code> {html.escape(phase)}: {html.escape(message)}</li>"
             for run in sweep.runs for phase, entry in run.summary.items() if isinstance(entry, dict)
             for message in entry.get("warnings") or ()]
    if not items:
        return ""
    warned = len({run.name for run in sweep.runs for entry in run.summary.values()
                  if isinstance(entry, dict) and entry.get("warnings")})
    return (f'<details class="failed"><summary>{len(items)} warning(s) in {warned} run(s)</summary>'
            f'<ul>{"".join(items)}</ul></details>')


def build_report(root: Path, out: Path | None = None, partial: bool = False, shown_as: Path | None = None) -> Path:
    """Draw every sweep under `root` and write the HTML page (atomically); returns its path. The page
    names its files under `shown_as` (default: root), where they will be read."""
    root = Path(root)
    if not root.is_dir():
        raise CotmixError(f"{root}: no such directory")
    out = check_output_file(Path(out) if out else root / "report.html", "--out", is_report, "report")
    figures = root / "report"
    if figures.is_symlink() or (figures.exists() and not figures.is_dir()):
        raise CotmixError(f"{figures}: is not a folder cotmix made; the report's figures go there (move it away)")
    shown = Path(shown_as) if shown_as else root
    with hostile_files(root):
        sweeps = [s for s in find_sweeps(root, partial) if s.done()]
    if not sweeps:
        raise CotmixError(f"{root}: no sweep with a finished run (run `cotmix sweep ... --out {root}/NAME` first, "
                          "or draw unfinished runs with --partial)")
    for sweep in sweeps if figures.is_dir() else ():  # every file to be written is checked before the first is
        for suffix in ("png", "svg"):
            check_output_file(figures / f"{sweep.name}.{suffix}", "report figure", is_figure, "figure")
    figures.mkdir(exist_ok=True)
    sections = []
    for sweep in sweeps:
        with hostile_files(sweep.path):
            fig, measured = FIGURES[kind_for(sweep)](sweep)
        fig.suptitle(f"{sweep.name}\n{setting_line(sweep)}", fontsize=10)
        tidy(fig)
        fig.tight_layout()
        png, svg = figures / f"{sweep.name}.png", figures / f"{sweep.name}.svg"
        save(fig, png, dpi=110, close=False)
        save(fig, svg)
        failed = [r.name for r in sweep.runs if r.status.get("state") == "failed"]
        unfinished = sweep.unfinished()
        runs = f"{len(sweep.done()) - len(unfinished)}/{len(sweep.runs) + len(sweep.not_started())} runs done"
        if unfinished:
            runs += (f'; <span class="failed">{len(unfinished)} unfinished, drawn where they stopped: '
                     f'{html.escape(", ".join(r.name for r in unfinished))}</span>')
        if failed:
            runs += f' <span class="failed">(failed: {html.escape(", ".join(failed))})</span>'
        runs += _warnings_html(sweep)
        label, claim = _claim(sweep.name)
        sections.append(SECTION.format(verdict=_verdict_html(sweep),anchor=html.escape(sweep.name), name=html.escape(sweep.name),
                                       claim_label=label, claim=html.escape(claim), measured=html.escape(measured),
                                       png=base64.b64encode(png.read_bytes()).decode(), runs=runs,
                                       png_path=html.escape(str(shown / png.relative_to(root))),
                                       svg_path=html.escape(str(shown / svg.relative_to(root)))))
    page = PAGE.format(root=html.escape(str(shown)), count=len(sweeps), when=time.strftime("%Y-%m-%d %H:%M"),
                       sections="\n".join(sections))
    write_text_atomic(out, page)
    return out


def is_report(path: Path) -> bool:
    """A page this command wrote (the only kind of file `--out` may replace)."""
    return starts_with(b"<title>cotmix report</title>", limit=256)(path)

