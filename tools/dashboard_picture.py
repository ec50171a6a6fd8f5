"""Draw the stack's CloudWatch dashboard from a local run, into a PNG.

    python tools/dashboard_picture.py TEMPLATE RUN_JSONL PNG
    (as in: build/prod/sam.yaml build/dashboard/run.jsonl docs/screenshots/dashboard.png)

The widgets are the dashboard's own: its body is read from the packaged
template, every widget is drawn where its x, y, width and height put it, each
line with its label, statistic, axis and colour, and each horizontal
annotation (a ${Parameter} at its default; one more than 3 times above the
data is written in the corner instead, so that it does not flatten the
lines, where CloudWatch would stretch the axis). The data is the run
tools/dashboard_run.py wrote: the service's metrics are its EMF lines; the
API Gateway and Lambda series are what those services would count for the
run's requests and function runs (one copy at a time: the run is in one
process); nothing was dead-lettered. Time is compressed: a widget's period
of a minute is 5 seconds of the run.

Runs in the tools venv (matplotlib, PyYAML): `make dashboard-picture`."""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import yaml

SECONDS_PER_MINUTE = 5.0  # the run's seconds that stand for a minute of CloudWatch
GRID_COLUMNS = 24


class Run:
    def __init__(self, path: Path) -> None:
        self.metrics: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.requests: list[dict[str, float]] = []
        self.runs: dict[str, list[float]] = defaultdict(list)
        start = None
        for line in path.read_text().splitlines():
            [(kind, record)] = json.loads(line).items()
            if kind == 'start':
                start = record['epoch_ms']
            elif kind == 'emf':
                at = (record['_aws']['Timestamp'] - start) / 1000
                for directive in record['_aws']['CloudWatchMetrics']:
                    for metric in directive['Metrics']:
                        for value in _as_list(record[metric['Name']]):
                            self.metrics[metric['Name']].append((at, value))
            elif kind == 'request':
                self.requests.append(record)
            elif kind == 'invocation':
                self.runs[record['function']].append(record['t'])
        self.end = max([r['t'] for r in self.requests] + [0.0])


def _as_list(value: Any) -> list[float]:
    return value if isinstance(value, list) else [value]


def _statistic(values: list[float], stat: str) -> float:
    if not values:
        return 0.0 if stat in ('Sum', 'SampleCount') else math.nan
    if stat == 'Sum':
        return sum(values)
    if stat == 'Maximum':
        return max(values)
    if stat == 'Average':
        return sum(values) / len(values)
    match = re.fullmatch(r'p(\d+(?:\.\d+)?)', stat)
    if match:
        ordered = sorted(values)
        rank = max(math.ceil(float(match.group(1)) / 100 * len(ordered)) - 1, 0)
        return ordered[rank]
    raise ValueError(f'statistic {stat} is not drawn')


def _function_names(template: dict[str, Any]) -> dict[str, str]:
    """'${APIHandler}' -> 'api', '${OutboxRelay}' -> 'outbox_relay', ..."""
    names = {}
    for logical_id, resource in template['Resources'].items():
        if resource['Type'] == 'AWS::Serverless::Function':
            given = resource['Properties']['FunctionName']
            text = given.get('Fn::Sub', '') if isinstance(given, dict) else given
            names['${%s}' % logical_id] = text.replace('${AWS::StackName}-', '') or 'api'
    return names


def series(run: Run, line: list[Any], period: float, functions: dict[str, str]):
    """(bucket starts, values) of one widget line."""
    options = line[-1] if isinstance(line[-1], dict) else {}
    namespace, name, *dimensions = line[:-1] if options else line
    dims = dict(zip(dimensions[::2], dimensions[1::2], strict=False))
    stat = options.get('stat', 'Average')
    buckets = [index * period for index in range(int(run.end // period) + 1)]

    def samples(start: float) -> list[float]:
        end = start + period
        if namespace == 'OrdersService':
            return [value for at, value in run.metrics[name] if start <= at < end]
        if namespace == 'AWS/ApiGateway':
            inside = [r for r in run.requests if start <= r['t'] < end]
            if name == 'Count':
                return [1.0] * len(inside)
            if name in ('4XXError', '5XXError'):
                return [1.0 for r in inside if str(r['status'])[0] == name[0]]
            if name == 'Latency':
                return [r['ms'] for r in inside]
        if namespace == 'AWS/Lambda':
            function = functions[dims['FunctionName']]
            times = (
                [r['t'] for r in run.requests] if function == 'api' else run.runs.get(function, [])
            )
            inside = [t for t in times if start <= t < end]
            if name == 'Invocations':
                return [1.0] * len(inside)
            if name == 'ConcurrentExecutions':
                return [1.0] if inside else [0.0]
            if name in ('Errors', 'Throttles'):
                return [0.0]
        if namespace == 'AWS/SQS':
            return [0.0]
        raise ValueError(f'no local data for {namespace} {name}')

    return buckets, [_statistic(samples(start), stat) for start in buckets], options


def _value(annotation: Any, parameters: dict[str, Any]) -> float:
    if isinstance(annotation, str):
        return float(parameters[annotation.strip('${}')]['Default'])
    return float(annotation)


def _annotate(axis: Any, label: str, value: float) -> None:
    """A threshold or limit line. One far above the data (a 3 s alarm over
    tens of milliseconds) would flatten it: that one is written, not drawn."""
    top = max([max(line.get_ydata(), default=0) for line in axis.get_lines()] + [0])
    if top and value > 3 * top:
        notes = [text for text in axis.texts if text.get_text().endswith('(above)')]
        axis.text(
            0.99,
            0.97 - 0.07 * len(notes),
            f'{label}: {value:g} (above)',
            transform=axis.transAxes,
            fontsize=7,
            color='grey',
            ha='right',
            va='top',
        )
        return
    axis.axhline(value, linestyle='--', color='grey', linewidth=0.9)
    axis.annotate(label, xy=(0, value), fontsize=7, color='grey', va='bottom')


def draw(template_path: Path, run_path: Path, out: Path) -> None:
    template = yaml.safe_load(template_path.read_text())
    body = template['Resources']['Dashboard']['Properties']['DashboardBody']['Fn::Sub'][0]
    dashboard = json.loads(re.sub(r'(?<!")\$\{([^}]+)\}(?!")', r'"${\1}"', body))
    parameters = template['Parameters']
    functions = _function_names(template)
    run = Run(run_path)
    rows = max(widget['y'] + widget['height'] for widget in dashboard['widgets'])
    figure = plt.figure(figsize=(18, rows * 0.75))
    grid = figure.add_gridspec(
        rows, GRID_COLUMNS, hspace=4.0, wspace=4.0, left=0.03, right=0.97, top=0.94, bottom=0.04
    )
    figure.suptitle(
        "orders-prod: the dashboard's widgets drawn from a local run "
        f'({len(run.requests)} requests; one bar = {SECONDS_PER_MINUTE:.0f} s '
        'standing for a minute)',
        fontsize=13,
    )
    for widget in dashboard['widgets']:
        props = widget['properties']
        axis = figure.add_subplot(
            grid[
                widget['y'] : widget['y'] + widget['height'],
                widget['x'] : widget['x'] + widget['width'],
            ]
        )
        right = None
        period = props.get('period', 60) / 60 * SECONDS_PER_MINUTE
        for line in props['metrics']:
            buckets, values, options = series(run, line, period, functions)
            target = axis
            if options.get('yAxis') == 'right':
                right = right or axis.twinx()
                target = right
            target.plot(
                buckets,
                values,
                label=options.get('label'),
                color=options.get('color'),
                linewidth=1.4,
                drawstyle='steps-post',
            )
        for annotation in props.get('annotations', {}).get('horizontal', []):
            target = right if annotation.get('yAxis') == 'right' and right else axis
            _annotate(target, annotation['label'], _value(annotation['value'], parameters))
        axis.set_title(props['title'], fontsize=10, loc='left')
        axis.tick_params(labelsize=7)
        axis.set_xlabel('seconds into the run', fontsize=7)
        axis.set_ylim(bottom=0, top=max(axis.get_ylim()[1], 1))
        handles, labels = axis.get_legend_handles_labels()
        if right:
            right.set_ylim(bottom=0, top=max(right.get_ylim()[1], 1))
            right.tick_params(labelsize=7)
            more_handles, more_labels = right.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        axis.legend(handles, labels, fontsize=6, loc='upper left', ncol=2, framealpha=0.6)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=80)


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[2].strip())
    draw(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
