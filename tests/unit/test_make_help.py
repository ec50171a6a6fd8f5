"""`make help` lists every target the Makefile declares .PHONY, one line each
(the `## ` text on its target line)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def phony_targets() -> set[str]:
    makefile = (ROOT / 'Makefile').read_text()
    return {
        name
        for line in re.findall(r'^\.PHONY:(.*)$', makefile, re.MULTILINE)
        for name in line.split()
    }


def test_make_help_lists_every_phony_target_once_with_what_it_does():
    printed = subprocess.run(
        ['make', '-s', 'help'], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = [line.split(maxsplit=1) for line in printed.splitlines()]
    names = [name for name, _ in listed]
    assert sorted(names) == sorted(phony_targets())
    assert all(text.strip() for _, text in listed)
