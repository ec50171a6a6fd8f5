"""The README check's own rules (tools/readme_walk.py): which lines are
commands and which their answers, what is normalised, and that a changed
answer is reported and rewritten. The check against a real `make run` is
tests/integration/test_readme.py."""

import pytest

from tools.readme_walk import WALK_END, WALK_START, differences, normalised, rewritten, steps

README = f"""# Title

```sh
$ echo not in the walk
not checked
```

{WALK_START}

```sh
$ curl -s localhost:8000/orders/1 \\
    -H "Authorization: Bearer $TOKEN"
{{"order_id":1,"created_at":"2026-12-05T05:52:36.103642Z","reference":"pi_kqXT7obZlRsFGh"}}

$ TOKEN=$(make -s token USER_ID=1)
$ ls .data/mail
20261205T055236-50d4e05c-515f-46eb-831c-cd24682d6315.eml
```

```
Subject: not a command block
```

{WALK_END}

```sh
$ echo after the walk
```
"""


def test_commands_are_the_dollar_lines_of_the_walks_sh_blocks_with_their_continuations():
    walk = steps(README)
    assert [step.command for step in walk] == [
        'curl -s localhost:8000/orders/1 \\\n    -H "Authorization: Bearer $TOKEN"',
        'TOKEN=$(make -s token USER_ID=1)',
        'ls .data/mail',
    ]
    assert [step.answer for step in walk] == [
        '{"order_id":1,"created_at":"2026-12-05T05:52:36.103642Z","reference":"pi_kqXT7obZlRsFGh"}',
        '',
        '20261205T055236-50d4e05c-515f-46eb-831c-cd24682d6315.eml',
    ]


def test_a_readme_without_the_walk_is_refused():
    with pytest.raises(SystemExit, match='no heading'):
        steps('# Title\n')


def test_times_ids_secrets_tokens_and_the_version_are_normalised():
    assert normalised(
        '{"at":"2026-12-07T19:49:28.745883Z","id":"pi_gatQMNjjuTbZ0L",'
        '"client_secret":"pi_gatQMNjjuTbZ0L_secret_HOfiOMqEdhZDdY05","pm":"pm_0mSDUE7RTdJpXt",'
        '"version":"1.2.3","token":"eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"}'
    ) == (
        '{"at":"<time>","id":"pi_<id>","client_secret":"pi_<id>_secret_<secret>",'
        '"pm":"pm_<id>","version":"<version>","token":"<token>"}'
    )


def test_an_answer_that_differs_only_in_what_changes_by_run_matches():
    walk = steps(README)
    answers = [
        '{"order_id":1,"created_at":"2026-12-07T19:49:28.745883Z","reference":"pi_gatQMNjjuTbZ0L"}',
        '',
        '20261207T194928-a79a61a8-6e2e-4306-9e47-71057388398f.eml',
    ]
    assert differences(walk, answers) == []


def test_a_changed_answer_is_reported_with_its_command_and_rewritten():
    walk = steps(README)
    answers = [
        '{"order_id":1,"created_at":"2026-12-07T19:49:28.745883Z","reference":"pi_gatQMNjjuTbZ0L",'
        '"total":1}',
        '',
        '20261207T194928-a79a61a8-6e2e-4306-9e47-71057388398f.eml',
    ]
    (report,) = differences(walk, answers)
    assert 'curl -s localhost:8000/orders/1' in report
    assert '+{"order_id":1' in report and '"total":1}' in report
    again = steps(rewritten(README, walk, answers))
    assert [step.answer for step in again] == answers
    assert differences(again, answers) == []
