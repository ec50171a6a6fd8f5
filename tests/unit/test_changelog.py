"""CHANGELOG.md and the version the service reports tell the same story."""

import re
from pathlib import Path

from chalicelib import __version__

CHANGELOG = Path(__file__).resolve().parents[2] / 'CHANGELOG.md'


def test_newest_release_in_the_changelog_is_the_version_the_service_reports():
    releases = re.findall(
        r'^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$', CHANGELOG.read_text(), re.MULTILINE
    )
    assert releases and releases[0] == __version__
