"""The lifecycle calendar as an SVG timeline a person can look at.

One row for the stable train (a mark per release date), one bar per LTS line
from its first stable to its end of support (green in support, blue upcoming,
grey past end of life), month ticks along the top and a red line at the
calendar's start date. Plain SVG 1.1 with inline styles, so browsers,
rsvg-convert and cairosvg draw it the same way.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

from .calendar import Calendar

WIDTH = 1000
LEFT = 190
RIGHT = 30
ROW = 34
TOP = 70
COLORS = {"in support": "#2e9e5b", "upcoming": "#3b7dd8", "end of life": "#9a9a9a"}


def _month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    day, months = dt.date(first.year, first.month, 1), []
    while day <= last:
        months.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def render(cal: Calendar, title: str) -> str:
    lines = [*cal.end_of_life, *cal.lines]
    first = min([cal.start, *(line.start for line in lines)])
    last = max([*cal.stables, *(line.end for line in lines), cal.start + dt.timedelta(days=30)])
    first, last = dt.date(first.year, first.month, 1), last + dt.timedelta(days=15)
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (day - first).days / span, 1)

    height = TOP + ROW * (len(lines) + 1) + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    bottom = TOP + ROW * (len(lines) + 1)
    for month in _month_starts(first, last):
        mx = x(month)
        out.append(f'<line x1="{mx}" y1="{TOP - 8}" x2="{mx}" y2="{bottom}" stroke="#e6e6e6"/>')
        if month.month in (1, 4, 7, 10):
            label = (
                month.strftime("%Y-%m")
                if month.month == 1 or month == _month_starts(first, last)[0]
                else month.strftime("%b")
            )
            out.append(f'<text x="{mx + 2}" y="{TOP - 14}" fill="#555">{label}</text>')
    y = TOP
    out.append(f'<text x="16" y="{y + 17}" font-weight="bold">stable (every train)</text>')
    for day in cal.stables:
        sx = x(day)
        out.append(f'<path d="M{sx} {y + 5} l6 7 l-6 7 l-6 -7 z" fill="#d9822b"><title>stable {day}</title></path>')
    for line in lines:
        y += ROW
        status = line.status(cal.start)
        x1, x2 = x(line.start), x(line.end)
        out.append(f'<text x="16" y="{y + 17}">{escape(line.name if line.line else f"LTS {line.year}")}</text>')
        out.append(
            f'<rect x="{x1}" y="{y + 5}" width="{max(x2 - x1, 2)}" height="16" rx="3" fill="{COLORS[status]}">'
            f"<title>{escape(line.name)}: {line.start} to {line.end} ({status})</title></rect>"
        )
        out.append(f'<text x="{x1 + 4}" y="{y + 17}" fill="#ffffff" font-size="11">{line.start} → {line.end}</text>')
    cx = x(cal.start)
    out.append(f'<line x1="{cx}" y1="{TOP - 8}" x2="{cx}" y2="{bottom}" stroke="#d62828" stroke-width="2"/>')
    out.append(f'<text x="{cx + 4}" y="{bottom + 14}" fill="#d62828">from {cal.start}</text>')
    legend_y = bottom + 36
    lx = LEFT
    for name, color in COLORS.items():
        out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{lx + 16}" y="{legend_y}">LTS {name}</text>')
        lx += 150
    out.append(f'<path d="M{lx + 6} {legend_y - 12} l6 7 l-6 7 l-6 -7 z" fill="#d9822b"/>')
    out.append(f'<text x="{lx + 16}" y="{legend_y}">stable release date</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
