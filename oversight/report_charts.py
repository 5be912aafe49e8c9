"""Server-side SVG charts of the transparency report: plain SVG, no script, no external file.

Bars are drawn from the *published* figures only: a banded count (``"0-9"``) is drawn as a hatched
bar up to the band's top with its band as the label, so that no bar's length gives a raw count away.
The same SVG goes into the HTML page and the PDF (WeasyPrint draws it as vector paths).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = "NanumGothic,NanumBarunGothic,Noto Sans CJK KR,sans-serif"
COLOURS = ("#1f5f99", "#d9822b", "#3c8d5a", "#9b3b3b", "#6b5b95")
WIDTH = 720
LABEL_WIDTH = 270
BAR_HEIGHT = 16
GAP = 6
GROUP_GAP = 12


@dataclass(frozen=True)
class Series:
    label: str
    colour: str


def _top(value) -> int:
    """The length a published value is drawn to: the count, or the top of its band."""
    if isinstance(value, int):
        return value
    return int(str(value).rsplit("-", 1)[-1])


def _text(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def bar_chart(title: str, groups: list[tuple[str, list]], series: list[Series]) -> SafeString:
    """Horizontal bars: one group per row label, one bar per series (``values`` in series order)."""
    rows = sum(len(values) for _label, values in groups)
    legend = 22 if len(series) > 1 else 0
    height = 30 + legend + rows * (BAR_HEIGHT + GAP) + len(groups) * GROUP_GAP + 10
    scale_max = max([_top(value) for _label, values in groups for value in values] + [1])
    room = WIDTH - LABEL_WIDTH - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="band" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="#b0b0b0"/></pattern></defs>',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    y = 30
    if len(series) > 1:
        x = LABEL_WIDTH
        for item in series:
            parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{item.colour}"/>')
            parts.append(f'<text x="{x + 16}" y="{y + 10}">{escape(item.label)}</text>')
            x += 24 + 7 * len(item.label)
        y += legend
    for label, values in groups:
        y += GROUP_GAP // 2
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 3}" text-anchor="end">{escape(label)}</text>')
        for value, item in zip(values, series, strict=True):
            length = max(room * _top(value) / scale_max, 1)
            fill = item.colour if isinstance(value, int) else "url(#band)"
            stroke = "" if isinstance(value, int) else f' stroke="{item.colour}" stroke-dasharray="3 2"'
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{fill}"{stroke}/>'
            )
            parts.append(
                f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + BAR_HEIGHT - 3}">{escape(_text(value))}</text>'
            )
            y += BAR_HEIGHT + GAP
        y += GROUP_GAP // 2
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text inside is escaped above


def charts(figures: dict, labels: dict) -> dict[str, SafeString]:
    """The report's three charts from its published figures, titled in the report's language."""
    warrants, accounts = figures["warrants"], figures["accounts"]
    kinds = [Series(labels["ordinary"], COLOURS[0]), Series(labels["emergency"], COLOURS[1])]
    by_agency = bar_chart(
        labels["chart_agencies"],
        [(row["name"], [row["ordinary"], row["emergency"]]) for row in warrants["by_agency"]],
        kinds,
    )
    outcome = bar_chart(
        labels["chart_outcomes"],
        [
            (labels["honoured"], [warrants["honoured"]]),
            (labels["refused_signature"], [warrants["refused_signature"]]),
            (labels["refused_legal"], [warrants["refused_legal"]]),
            (labels["open"], [warrants["open"]]),
        ],
        [Series(labels["warrants"], COLOURS[2])],
    )
    people = bar_chart(
        labels["chart_people"],
        [
            (labels["pseudonymised"], [accounts["pseudonymised"]]),
            (labels["revealed"], [accounts["revealed"]]),
            (labels["still_pseudonymous"], [accounts["still_pseudonymous"]]),
        ],
        [Series(labels["people"], COLOURS[4])],
    )
    return {"by_agency": by_agency, "outcome": outcome, "people": people}
