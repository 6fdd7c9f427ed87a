"""The ``logradar`` command line.

Only typer and the standard library are imported here at the top, so
``logradar --help`` is quick; each command imports what it needs (Kafka
clients, rich, the Faust app) when it runs.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from logradar.replay import ReplayStats
    from logradar.settings import Settings

app = typer.Typer(
    name="logradar",
    help="Stream processing of application logs on Kafka: windowed counts, alerts, metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


class Scenario(StrEnum):
    """logradar.generate.SCENARIOS (a test keeps the two the same)."""

    steady = "steady"
    error_burst = "error-burst"
    error_spike = "error-spike"
    traffic_drop = "traffic-drop"
    silence = "silence"
    brute_force = "brute-force"
    order_without_payment = "order-without-payment"
    new_template = "new-template"
    long_session = "long-session"
    all = "all"


class TailKind(StrEnum):
    alerts = "alerts"
    counts = "counts"
    dead_letter = "dead-letter"


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"logradar: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _settings() -> Settings:
    """The process Settings; an invalid one is reported in one line and exits 2."""
    from logradar.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as exc:
        _fail(str(exc), 2)


def _report(verb: str, stats: ReplayStats, where: str) -> None:
    print(
        f"{verb} {stats.records:,} records ({stats.bytes:,} bytes) to {where} "
        f"in {stats.seconds:.1f}s ({stats.rate:,.0f}/s)",
        file=sys.stderr,
    )


@app.command()
def generate(
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="Events per second of event time [default: per scenario]."),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            min=0, help="Baseline records to make [default: per scenario; steady: unbounded]."
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds of event time (count = duration x rate)."),
    ] = None,
    services: Annotated[int, typer.Option(min=1, help="How many services log.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same records.")] = 0,
    scenario: Annotated[
        Scenario, typer.Option(help="Traffic shape, and the incident it injects.")
    ] = Scenario.steady,
    burst_at: Annotated[
        float | None,
        typer.Option(help="Seconds after the start the incident begins [default: per scenario]."),
    ] = None,
    bad_every: Annotated[
        int, typer.Option(min=0, help="Make every Nth record a bad one (0: none).")
    ] = 0,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Write a file (as fast as possible) instead of producing live to Kafka.",
        ),
    ] = None,
) -> None:
    """Make synthetic logs: to a file, or live to the first input topic at RATE/s.

    A file covers the DURATION (default 900 s, or what the scenario needs)
    that ends at the start of the current minute. Live, event time is wall
    time and it runs until COUNT, DURATION or Ctrl-C.
    """
    if count is not None and duration is not None:
        _fail("give --count or --duration, not both", 2)
    from logradar.generate import scenario_defaults

    defaults = scenario_defaults(scenario.value)
    rate = defaults["rate"] if rate is None else rate
    burst_at = defaults["burst_at_s"] if burst_at is None else burst_at
    if duration is not None:
        count = math.ceil(duration * rate)
    elif count is None and "count" in defaults:  # the scenario's event time, at this rate
        count = math.ceil(defaults["count"] / defaults["rate"] * rate)
    if output is not None:
        from logradar.generate import generate as make
        from logradar.generate import write_lines

        if count is None:
            count = math.ceil(900 * rate)
        start = math.floor(time.time() / 60) * 60 - count / rate
        try:
            records = make(
                start_ts=start,
                rate=rate,
                count=count,
                services=services,
                seed=seed,
                scenario=scenario.value,
                bad_every=bad_every,
                burst_at_s=burst_at,
            )
            written = write_lines(output, records)
        except ValueError as exc:  # the scenario does not fit these arguments
            _fail(str(exc), 2)
        print(f"wrote {written:,} records to {output}", file=sys.stderr)
        return

    from logradar.generate import live_generate
    from logradar.kafka import ensure_topics
    from logradar.replay import DeliveryError

    settings = _settings()
    topic = settings.input_topics[0]
    try:
        ensure_topics(
            settings.bootstrap_servers,
            [topic],
            settings.topic_partitions,
            conf=settings.kafka_config(),
        )
        stats = live_generate(
            bootstrap=settings.bootstrap_servers,
            conf=settings.kafka_config(),
            topic=topic,
            rate=rate,
            count=count,
            services=services,
            seed=seed,
            scenario=scenario.value,
            bad_every=bad_every,
            burst_at_s=burst_at,
            window_s=settings.tumbling_s,
            progress=sys.stderr.isatty(),
        )
    except DeliveryError as exc:
        _report("sent", exc.stats, topic)
        _fail(str(exc))
    except RuntimeError as exc:  # ensure_topics: broker unreachable
        _fail(str(exc))
    except ValueError as exc:  # the scenario does not fit these arguments
        _fail(str(exc), 2)
    _report("sent", stats, topic)


@app.command()
def replay(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Log files, one record a line."
        ),
    ],
    topic: Annotated[
        str | None, typer.Option(help="Topic to write to [default: the first input topic].")
    ] = None,
    format: Annotated[  # noqa: A002 - the option is --format
        str | None, typer.Option("--format", help="Parse lines as this format only.")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="Pace by event time at SPEED x real time [default: max]."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Send log files to Kafka, one record per line, keyed by service."""
    from logradar.kafka import ensure_topics
    from logradar.replay import DeliveryError
    from logradar.replay import replay as run

    settings = _settings()
    target = topic or settings.input_topics[0]
    try:
        ensure_topics(
            settings.bootstrap_servers,
            [target],
            settings.topic_partitions,
            conf=settings.kafka_config(),
        )
        stats = run(
            files,
            bootstrap=settings.bootstrap_servers,
            conf=settings.kafka_config(),
            topic=target,
            fmt=format,
            speed=speed,
            progress=progress and sys.stderr.isatty(),
        )
    except DeliveryError as exc:
        _report("sent", exc.stats, target)
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    _report("replayed", stats, target)


@app.command()
def tail(
    kind: Annotated[TailKind, typer.Argument(help="Which output to follow.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print each value as it is, one JSON a line.")
    ] = False,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest record.")
    ] = False,
    max_records: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N records.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Stop after S seconds without a record.")
    ] = None,
) -> None:
    """Follow the alerts, window counts or dead letters (Ctrl-C stops)."""
    from logradar.tail import tail as run

    settings = _settings()
    run(
        kind.value,
        settings=settings,
        json_out=json_out,
        from_beginning=from_beginning,
        max_records=max_records,
        timeout=timeout,
    )


@app.command()
def notify(
    once: Annotated[
        bool, typer.Option("--once", help="Exit once no alert arrived for --idle seconds.")
    ] = False,
    idle: Annotated[float, typer.Option(min=0, help="Quiet seconds that end --once.")] = 3.0,
) -> None:
    """Send alerts to the LOGRADAR_NOTIFY_* sinks: webhook, Slack, e-mail, Alertmanager."""
    import logging

    from logradar.notify.runner import serve
    from logradar.notify.settings import NotifySettingsError, load_notify_settings

    settings = _settings()
    try:
        conf = load_notify_settings()
    except NotifySettingsError as exc:
        _fail(str(exc), 2)
    logging.basicConfig(level=logging.INFO, format="logradar notify: %(message)s")
    print(
        f"logradar notify: {settings.alerts_topic} on {settings.broker} to "
        f"{', '.join(conf.configured())}; failures to {settings.dead_letter_topic}",
        file=sys.stderr,
    )
    try:
        stats = serve(settings, conf, once=once, idle_s=idle)
    except RuntimeError as exc:  # dead letters not stored: offsets stay uncommitted
        _fail(str(exc))
    print(
        f"handled {stats.records} alert records, {stats.dead_letters} dead letters",
        file=sys.stderr,
    )


# --- Worker, embedded broker and demo --------------------------------------------
# These import the Faust app (`streams.app`) and the broker launcher inside the
# command bodies, never at module level.


class LogLevel(StrEnum):
    crit = "crit"
    error = "error"
    warn = "warn"
    info = "info"
    debug = "debug"


def load_modules(packages: Sequence[str]) -> None:
    """Import every module of ``packages`` now, so one that fails stops the worker.

    Faust's autodiscovery only logs a warning when an agent module fails to
    import, and the worker then runs, ready and healthy, without that agent.
    """
    import importlib
    import pkgutil

    for name in packages:
        package = importlib.import_module(name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{name}.{info.name}")


@app.command()
def worker(
    loglevel: Annotated[
        LogLevel, typer.Option("--loglevel", "-l", help="Log level.")
    ] = LogLevel.info,
) -> None:
    """Run a logradar worker: consume the input topics, emit counts, alerts and metrics."""
    settings = _settings()
    from logradar.gctune import set_young_threshold
    from logradar.kafka import TopicLayoutError, prepare_topics, wait_for_broker
    from logradar.rules import RulesError, load_rules

    if settings.rules:
        try:
            load_rules(settings.rules)
        except RulesError as exc:
            _fail(f"invalid rules file (LOGRADAR_RULES):\n{exc}", 2)
    wait_for_broker(
        settings.bootstrap_servers,
        log=lambda m: print(m, file=sys.stderr),
        conf=settings.kafka_config(),
    )
    outputs = [
        settings.counts_topic,
        settings.alerts_topic,
        settings.dead_letter_topic,
        settings.sessions_topic,
    ]
    try:
        prepare_topics(
            settings.bootstrap_servers,
            settings.input_topics,
            outputs,
            settings.topic_partitions,
            conf=settings.kafka_config(),
        )
    except TopicLayoutError as exc:
        _fail(str(exc), 2)
    from logradar.eventloop import EventLoopError, install

    try:
        loop = install(settings.event_loop)  # before Faust creates the loop
    except EventLoopError as exc:
        _fail(str(exc), 2)
    import faust

    from streams.app import app as faust_app

    load_modules(("tables", "agents"))
    set_young_threshold(settings.gc_young_threshold)  # see logradar/gctune.py
    print(
        f"logradar worker {settings.app_id}: {','.join(settings.input_topics)} on "
        f"{settings.broker} ({loop} event loop); "
        f"metrics at http://{settings.web_bind}:{settings.web_port}/metrics",
        file=sys.stderr,
    )
    faust.Worker(faust_app, loglevel=loglevel.value).execute_from_commandline()


@app.command()
def status(
    url: Annotated[
        str | None,
        typer.Option(
            help="The worker's web address [default: LOGRADAR_WEB_BIND:LOGRADAR_WEB_PORT]."
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the /status document as it is.")
    ] = False,
) -> None:
    """One worker's partitions, watermarks, open windows, incidents and last alert (its /status)."""
    from logradar.status import StatusUnavailable, default_url, fetch_status, render

    target = url if url else default_url(_settings())
    try:
        doc = fetch_status(target)
    except StatusUnavailable as exc:
        _fail(str(exc))
    if json_out:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
        return
    from rich.console import Console

    render(doc, Console(highlight=False))


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 9092,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory only) in the foreground."""
    from logradar.broker import BrokerUnavailable, start_broker

    try:
        b = start_broker(port)
    except BrokerUnavailable as exc:
        _fail(str(exc))
    print(f"embedded broker listening on {b.url} (memory storage; Ctrl-C stops it)")
    try:
        b.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    port: Annotated[int, typer.Option(help="Broker port; a free one if taken.")] = 9092,
    speed: Annotated[
        float, typer.Option(min=1.0, help="Replay speed: times real (event) time.")
    ] = 60.0,
) -> None:
    """Embedded broker, a worker, one incident per detector replayed fast, and a live view."""
    from logradar.demo import run_demo

    raise typer.Exit(run_demo(duration=duration, port=port, speed=speed))


# --- Backtest and rules ------------------------------------------------------------


@app.command()
def backtest(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Log files, one record a line."
        ),
    ],
    rules_file: Annotated[
        Path | None,
        typer.Option(
            "--rules", dir_okay=False, help="Rules YAML [default: LOGRADAR_RULES, else built-in]."
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(min=1, help="Input partitions [default: LOGRADAR_TOPIC_PARTITIONS]."),
    ] = None,
    format: Annotated[  # noqa: A002 - the option is --format
        str | None, typer.Option("--format", help="Parse lines as this format only.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON document to stdout instead.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", dir_okay=False, help="Also write an HTML report.")
    ] = None,
) -> None:
    """Run the worker's engine over log files, no broker: the alerts they would have raised."""
    from logradar.backtest import backtest as run
    from logradar.parsing import validate_formats
    from logradar.rules import RulesError, default_rules, load_rules

    settings = _settings()
    if format:
        try:
            validate_formats([format])
        except ValueError as exc:
            _fail(str(exc), 2)
    source = str(rules_file) if rules_file is not None else settings.rules
    try:
        rules = load_rules(source) if source else default_rules()
    except RulesError as exc:
        _fail(f"invalid rules file:\n{exc}", 2)
    try:
        result = run(
            files,
            settings=settings,
            rules=rules,
            partitions=partitions,
            fmt=format,
            progress=sys.stderr.isatty(),
        )
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if report is not None:
        from logradar.report import write_report

        write_report(result, report, title=f"logradar backtest: {', '.join(f.name for f in files)}")
    if json_out:
        import orjson

        doc = {
            "alerts": result.alerts,
            "summary": result.summary_rows(),
            "events": result.events,
            "seconds": round(result.seconds, 3),
        }
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
    else:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = Console(highlight=False)
        colours = {"firing": "bold red", "resolved": "green"}
        for a in result.alerts:
            start = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(a["window_start"]))
            state = a["state"]
            console.print(
                f"[{colours.get(state, 'bold')}]{state:<8}[/] {escape(a['rule'])} "
                f"[bold]{escape(a['service'])}[/] {start}Z {escape(a['summary'])}",
                soft_wrap=True,
            )
        table = Table(title=f"{len(result.alerts)} alerts from {result.events:,} records")
        for name, justify in (
            ("rule", "left"),
            ("firings", "right"),
            ("resolutions", "right"),
            ("services", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in result.summary_rows():
            table.add_row(
                escape(row["rule"]),
                str(row["firings"]),
                str(row["resolutions"]),
                escape(", ".join(row["services"])),
            )
        console.print(table)
    print(
        f"backtested {result.events:,} records in {result.seconds:.1f}s "
        f"({result.events_per_second:,.0f}/s)" + (f"; report: {report}" if report else ""),
        file=sys.stderr,
    )


rules_app = typer.Typer(help="Check detection rules files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("check")
def rules_check(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The rules YAML file.")],
) -> None:
    """Validate a rules file; print what it means, or every problem (exit 2)."""
    from logradar.rules import RulesError, load_rules, summary

    try:
        rules = load_rules(file)
    except RulesError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        raise typer.Exit(2) from None
    for line in summary(rules):
        print(line)
    print("OK")


def main() -> None:
    """Entry point of the ``logradar`` console script."""
    app()
