"""A sentence as the labeling page shows it: escaped HTML with coloured
spans, and word selections turned into character spans."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ..data.sentence import Sentence, Span

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _color(schema, label: str) -> str:
    color = schema.color(label)
    return color if _COLOR.match(color) else "#BAB0AC"


def span_style(color: str, status: str) -> str:
    """Confirmed: filled with a solid outline; suggested: dashed outline, no fill."""
    if status == "suggested":
        return f"border:2px dashed {color};background:transparent;border-radius:4px;padding:0 2px"
    return f"border:2px solid {color};background:{color}40;border-radius:4px;padding:0 2px"


def _esc(text: str) -> str:
    # One line: a blank line would end Markdown's raw-HTML block and let the rest be parsed as Markdown.
    return html.escape(text, quote=True).replace("\n", "<br>")


def sentence_html(sentence: Sentence, schema, spans: Iterable[Span] | None = None) -> str:
    """The sentence as one ``<div>``; every piece of text is escaped.

    ``spans`` default to the sentence's own; they must not overlap (the
    person's layer never does). Each span is a ``<mark>`` with its label in
    a ``<sup>``, class ``allabel-confirmed`` or ``allabel-suggested``.
    """
    text = sentence.text
    parts: list[str] = []
    pos = 0
    for sp in sorted(spans if spans is not None else sentence.spans, key=lambda s: (s.start, -s.end)):
        if sp.start < pos:
            continue
        color = _color(schema, sp.label)
        parts.append(_esc(text[pos:sp.start]))
        parts.append(
            f'<mark class="allabel-{html.escape(sp.status)}" title="{html.escape(sp.status)}" '
            f'style="{span_style(color, sp.status)}">{_esc(text[sp.start:sp.end])}'
            f'<sup style="color:{color};font-weight:600;margin-left:2px">{html.escape(sp.label)}</sup></mark>'
        )
        pos = sp.end
    parts.append(_esc(text[pos:]))
    return f'<div class="allabel-sentence" style="font-size:1.25rem;line-height:2.2">{"".join(parts)}</div>'


def chip_html(name: str, color: str, number: int | None = None) -> str:
    """A coloured legend chip for an entity type (escaped)."""
    color = color if _COLOR.match(color) else "#BAB0AC"
    key = f"{number} " if number is not None else ""
    return (f'<span style="border:2px solid {color};background:{color}40;border-radius:10px;'
            f'padding:1px 8px;margin-right:6px">{html.escape(key + name)}</span>')


def span_html(span: Span, schema) -> str:
    """One span for a list row: its text marked like in the sentence (escaped)."""
    color = _color(schema, span.label)
    return (f'<mark class="allabel-{html.escape(span.status)}" style="{span_style(color, span.status)}">'
            f'{_esc(span.text)}</mark> <b style="color:{color}">{html.escape(span.label)}</b> '
            f'<i>{html.escape(span.status)}</i>')


def span_from_tokens(sentence: Sentence, token_indices: Iterable[int]) -> tuple[int, int] | None:
    """Selected words → the character span from the first to the last of
    them (gaps are filled: a span is contiguous). None for no words."""
    idx = sorted({int(i) for i in token_indices})
    if not idx:
        return None
    return sentence.tokens[idx[0]].start, sentence.tokens[idx[-1]].end
