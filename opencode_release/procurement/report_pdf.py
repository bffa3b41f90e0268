"""The report as PDF (reportlab, pure Python): the same sections as the HTML, with the timeline drawn.

`invariant` makes reportlab leave out the creation time and random document
id, so the same packet gives the same PDF bytes (the packet's zip is
deterministic only if this is).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from .report import Section, Table

_PAGE = landscape(A4)
_WIDTH = _PAGE[0] - 30 * mm


def _timeline(lines: Sequence[tuple[str, object, object]]) -> Drawing:

    spans = [
        (name, start, end) for name, start, end in lines if isinstance(start, dt.date) and isinstance(end, dt.date)
    ]
    first = min(s for _, s, _ in spans)
    last = max(e for _, _, e in spans)
    total = max((last - first).days, 1)
    drawing = Drawing(_WIDTH, 30 * len(spans) + 10)
    for row, (name, start, end) in enumerate(spans):
        y = 30 * (len(spans) - row - 1) + 10
        x = 120 + (_WIDTH - 130) * (start - first).days / total
        width = max((_WIDTH - 130) * (end - start).days / total, 2)
        drawing.add(String(0, y + 5, name, fontSize=9))
        drawing.add(Rect(x, y, width, 14, fillColor=colors.HexColor("#4a7bb7"), strokeColor=None))
        drawing.add(String(x, y - 8, f"{start} to {end}", fontSize=7))
    return drawing


def _table(table: Table, style: object) -> LongTable:
    columns = len(table.header)
    cells = [[Paragraph(f"<b>{escape(h)}</b>", style) for h in table.header]]
    cells += [[Paragraph(escape(c), style) for c in row] for row in table.rows]
    result = LongTable(cells, colWidths=[_WIDTH / columns] * columns, repeatRows=1)
    result.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
            ]
        )
    )
    return result


def render_pdf(parts: list[Section]) -> bytes:
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    story: list[object] = []
    for number, part in enumerate(parts):
        if number:
            story.append(PageBreak())
        story.append(Paragraph(escape(part.title), styles["Title" if number == 0 else "Heading1"]))
        story += [Paragraph(escape(text), styles["BodyText"]) for text in part.paragraphs]
        if part.timeline:
            story += [Spacer(1, 4 * mm), _timeline(part.timeline), Spacer(1, 4 * mm)]
        for table in part.tables:
            if table.rows:
                story += [Spacer(1, 3 * mm), _table(table, cell)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=_PAGE,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=parts[0].title,
        creator="opencode-release",
        invariant=1,
    )
    document.build(story)
    return buffer.getvalue()
