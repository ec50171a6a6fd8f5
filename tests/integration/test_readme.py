"""The README's walk-through is what `make run` answers: every command of it
run in order against a fresh `make run`, each answer compared with what the
README prints (tools/readme_walk.py; `make docs-check` runs the same, and
`make docs-readme` pastes a real run's answers in)."""

import pytest

from tools import readme_walk

pytestmark = pytest.mark.slow


def test_every_answer_of_the_readme_walk_through_is_what_make_run_answers():
    walk = readme_walk.steps(readme_walk.README.read_text())
    reports = readme_walk.differences(walk, readme_walk.run(walk))
    assert not reports, 'make docs-readme pastes the answers in\n\n' + '\n\n'.join(reports)
