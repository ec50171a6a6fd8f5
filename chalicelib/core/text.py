"""The one rule for human-written text, without marshmallow: request schemas
(inputs.FreeText) and settings read from the environment (config.py) hold
free text to the same characters."""

import re

# Free text (a cancellation reason, a carrier, a product name, the return
# instructions) ends up in the order's history, in staff tools and in
# emails. Refused in it:
# - lone surrogates: no encoder can write them (a 500 on the way to the
#   database, a crash in the mail);
# - C0 and C1 control characters and DEL: they rewrite terminals and logs;
#   tab and line breaks only where the field is multi-line;
# - bidirectional embeddings, overrides and isolates (U+202A..U+202E,
#   U+2066..U+2069): they make "gnp.exe" read as "exe.png";
# - invisible characters with no part in any script: zero width space
#   U+200B, word joiner U+2060, zero width no-break space (BOM) U+FEFF.
#   Zero width (non-)joiners U+200C and U+200D stay allowed: Persian, the
#   Indic scripts and emoji sequences need them to be written correctly.
_ALWAYS_REFUSED = (
    '\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff'
)
MULTI_LINE_REFUSED = re.compile(f'[{_ALWAYS_REFUSED}]')
ONE_LINE_REFUSED = re.compile(f'[{_ALWAYS_REFUSED}\t\n\r]')


def refused_character(value: str, multi_line: bool = False) -> re.Match[str] | None:
    """The first character free text may not hold, or None."""
    return (MULTI_LINE_REFUSED if multi_line else ONE_LINE_REFUSED).search(value)
