"""The README's walk-through, run against a real `make run`.

    python -m tools.readme_walk check   (make docs-check)   fail on any changed answer
    python -m tools.readme_walk write   (make docs-readme)  paste the answers of a real run

The walk-through is the README's `sh` blocks from WALK_START up to WALK_END:
a line starting with `$ ` is a command (continued while a line ends with a
backslash), the lines after it up to the next command are what it answered.
A run starts a fresh `make run` (tools/fresh_run.py: a scratch copy of the
project, so its database, mail and dev keys start empty, on two free ports), runs every
command in order in one bash (variables carry from one to the next), with
`localhost:8000` and `localhost:8420` turned into those ports, and stops it.

Answers are compared after normalising what changes from run to run:
timestamps, mail file names, Stripe object ids and client secrets, tokens and
the service's version; `curl -i`'s Server, Date and Content-Length headers
are left out, as the README says."""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools import fresh_run

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
WALK_START = '## A walk through (against `make run`)'
WALK_END = '## API reference'
API_PORT, STRIPE_PORT = 8000, 8420
WALK_SECONDS = 300
LEFT_OUT_HEADERS = re.compile(r'^(Server|Date|Content-Length): .*\n', re.MULTILINE)
VARIABLE = [
    (re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z'), '<time>'),
    (re.compile(r'\d{8}T\d{6}-[0-9a-f-]{36}\.eml'), '<mail>.eml'),
    (re.compile(r'\b(pi|pm|re|ch|py|evt)_[A-Za-z0-9]{8,}'), r'\1_<id>'),
    (re.compile(r'_secret_[A-Za-z0-9]+'), '_secret_<secret>'),
    (re.compile(r'eyJ[\w-]*\.[\w-]+\.[\w-]+'), '<token>'),
    (re.compile(r'"version":"[^"]*"'), '"version":"<version>"'),
]


@dataclass
class Step:
    command: str  # as the README writes it, continuation lines included
    answer: str  # what the README prints
    lines: tuple[int, int]  # the answer's lines in the README: [start, end)


def steps(readme: str) -> list[Step]:
    lines = readme.split('\n')
    try:
        start, end = lines.index(WALK_START), lines.index(WALK_END)
    except ValueError as missing:
        raise SystemExit(f'README.md: no heading {missing}') from None
    found: list[Step] = []
    in_sh = False
    index = start
    while index < end:
        line = lines[index]
        if line.startswith('```'):
            in_sh = line == '```sh' and not in_sh
            index += 1
            continue
        if not (in_sh and line.startswith('$ ')):
            index += 1
            continue
        command = [line[2:]]
        while command[-1].endswith('\\'):
            index += 1
            command.append(lines[index])
        index += 1
        first = index
        while not (lines[index].startswith('$ ') or lines[index].startswith('```')):
            index += 1
        last = index
        while last > first and not lines[last - 1].strip():
            last -= 1
        found.append(Step('\n'.join(command), '\n'.join(lines[first:last]), (first, last)))
    if not found:
        raise SystemExit('README.md: no `$ ` command in the walk-through')
    return found


def cleaned(output: str) -> str:
    """An answer as the README prints it."""
    return LEFT_OUT_HEADERS.sub('', output.replace('\r\n', '\n')).rstrip()


def normalised(answer: str) -> str:
    for pattern, replacement in VARIABLE:
        answer = pattern.sub(replacement, answer)
    return '\n'.join(line.rstrip() for line in answer.strip().split('\n'))


def differences(walk: Sequence[Step], answers: Sequence[str]) -> list[str]:
    """One report per answer that is not what the README prints."""
    reports = []
    for number, (step, answer) in enumerate(zip(walk, answers, strict=True), 1):
        expected, actual = normalised(step.answer), normalised(answer)
        if expected != actual:
            diff = difflib.unified_diff(
                expected.split('\n'), actual.split('\n'), 'README', 'make run', lineterm=''
            )
            reports.append(
                f'command {number} (README.md line {step.lines[0]}): $ {step.command}\n'
                + '\n'.join(diff)
            )
    return reports


def rewritten(readme: str, walk: Sequence[Step], answers: Sequence[str]) -> str:
    """The README with every answer replaced by the run's: all from one run,
    so an id or a time it shows twice is the same in both places."""
    lines = readme.split('\n')
    for step, answer in reversed(list(zip(walk, answers, strict=True))):
        first, last = step.lines
        lines[first:last] = answer.split('\n') if answer else []
    return '\n'.join(lines)


def script(walk: Sequence[Step], answers_dir: Path, port: int, stripe_port: int) -> str:
    parts = []
    for number, step in enumerate(walk):
        command = step.command.replace(f'localhost:{API_PORT}', f'localhost:{port}')
        command = command.replace(f'localhost:{STRIPE_PORT}', f'localhost:{stripe_port}')
        # `:` first: a group holding only a comment is a syntax error.
        parts.append(f'{{ :\n{command}\n}} >{answers_dir}/{number} 2>&1 </dev/null\n')
    return ''.join(parts)


def run(walk: Sequence[Step]) -> list[str]:
    """Each command's answer, from a fresh `make run`."""
    if shutil.which('curl') is None:
        raise SystemExit('The README walk-through runs curl: install it (.ci/run does)')
    with tempfile.TemporaryDirectory(prefix='readme-walk-') as scratch:
        with fresh_run.make_run(fresh_run.copy_project(Path(scratch))) as server:
            answers_dir = Path(scratch) / 'answers'
            answers_dir.mkdir()
            walk_script = Path(scratch) / 'walk.sh'
            walk_script.write_text(script(walk, answers_dir, server.port, server.stripe_port))
            walked = subprocess.run(
                ['bash', str(walk_script)],
                cwd=server.project,
                env=server.env,
                timeout=WALK_SECONDS,
                check=False,
                stderr=subprocess.PIPE,
                text=True,
            )
        answers = [answers_dir / str(number) for number in range(len(walk))]
        if not all(path.exists() for path in answers):
            raise SystemExit(f'The walk stopped half-way:\n{walked.stderr}')
        return [cleaned(path.read_text(errors='replace')) for path in answers]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('action', choices=('check', 'write'))
    args = parser.parse_args(argv)
    readme = README.read_text()
    walk = steps(readme)
    answers = run(walk)
    reports = differences(walk, answers)
    if args.action == 'write':
        README.write_text(rewritten(readme, walk, answers))
        print(f'README.md: {len(walk)} answers pasted from this run, {len(reports)} changed')
        return 0
    for report in reports:
        print(report, end='\n\n')
    print(f'README.md: {len(walk) - len(reports)} of {len(walk)} answers as printed')
    return 1 if reports else 0


if __name__ == '__main__':
    sys.exit(main())
