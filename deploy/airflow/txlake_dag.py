"""Airflow DAG running txlake jobs as mapped tasks over `txlake plan`.

Each run of the DAG (one per logical date, ``{{ ds }}``):

1. ``plan`` runs ``txlake plan JOB --from DS --to DS [--shards N]`` and keeps
   the tasks that are not committed yet (pending, inputs_changed);
2. ``run`` maps one BashOperator task over them (dynamic task mapping):
   ``txlake run JOB --date DS [--shard i/n]``. On the Celery or Kubernetes
   executor the mapped tasks run on as many workers as are free;
3. ``drift`` runs the drift job for the date once every ingest task is done.

Exit codes (DESIGN.md): 75 is temporary and the task is retried; 1, 2 and 4
fail the task at once, without retries (re-running cannot help); 3 (drift
detected, with ``fail_on_drift: true``) fails the drift task without retries
and calls ``on_drift`` to alert.

Configure with environment variables of the scheduler and workers:
TXLAKE_BIN (default ``txlake``), TXLAKE_JOBS (the jobs file, default
``/etc/txlake/jobs.yaml``), TXLAKE_DAG_JOB (the ingest job, default
``payments``), TXLAKE_DAG_DRIFT_JOB (default ``payments-drift``; empty for
none), TXLAKE_DAG_SHARDS (shards per date, default 1) and TXLAKE_DAG_PARALLEL
(mapped tasks at once, default 4). See docs/scaling.md.

The functions above the DAG are plain Python, so they are tested without
Airflow (cmd/txlake/airflow_test.go).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from datetime import datetime, timedelta

TXLAKE = os.environ.get("TXLAKE_BIN", "txlake")
JOBS_FILE = os.environ.get("TXLAKE_JOBS", "/etc/txlake/jobs.yaml")
INGEST_JOB = os.environ.get("TXLAKE_DAG_JOB", "payments")
DRIFT_JOB = os.environ.get("TXLAKE_DAG_DRIFT_JOB", "payments-drift")
SHARDS = int(os.environ.get("TXLAKE_DAG_SHARDS", "1"))
# Mapped tasks at once. Tasks on the same partition are safe: each commit
# holds the partition's lease, and a task that loses a race exits 75, which
# Airflow retries (docs/scaling.md).
PARALLEL = int(os.environ.get("TXLAKE_DAG_PARALLEL", "4"))

EXIT_OK = 0
EXIT_DRIFT = 3
EXIT_RETRY = 75  # temporary: storage or source unreachable, or a concurrent commit
EXIT_FAIL = (1, 2, 4)  # failure, usage/configuration, data-quality threshold


def txlake_argv(args: list[str]) -> list[str]:
    """The full command line of txlake ARGS with the jobs file."""
    return [TXLAKE, *args, "--jobs", JOBS_FILE]


def plan_argv(job: str, date: str, shards: int = 1) -> list[str]:
    """The `txlake plan` command line for one date."""
    argv = ["plan", job, "--from", date, "--to", date]
    if shards > 1:
        argv += ["--shards", str(shards)]
    return txlake_argv(argv)


def plan_commands(plan: dict) -> list[str]:
    """The bash commands of the plan's tasks that still need a run.

    ``plan`` is the JSON document of `txlake plan` (docs/json-contracts.md);
    each task carries the txlake arguments that run it.
    """
    if plan.get("version") != 1:
        raise ValueError(f"unsupported txlake plan version {plan.get('version')!r}")
    return [
        shlex.join(txlake_argv(task["args"]))
        for task in plan["tasks"]
        if task["status"] != "committed"
    ]


def outcome(exit_code: int) -> str:
    """What the DAG does with a txlake exit code: ok, retry, drift or fail."""
    if exit_code == EXIT_OK:
        return "ok"
    if exit_code == EXIT_RETRY:
        return "retry"
    if exit_code == EXIT_DRIFT:
        return "drift"
    return "fail"


_EXIT_RE = re.compile(r"exit code (\d+)")


def exit_code_of(error: BaseException) -> int | None:
    """The exit code named by a BashOperator failure, if any."""
    m = _EXIT_RE.search(str(error))
    return int(m.group(1)) if m else None


def run_plan(date: str) -> list[str]:
    """Runs `txlake plan` for the date and returns the commands to map over."""
    out = subprocess.run(
        plan_argv(INGEST_JOB, date, SHARDS), check=True, capture_output=True, text=True
    ).stdout
    return plan_commands(json.loads(out))


try:
    try:  # Airflow 3
        from airflow.providers.standard.operators.bash import BashOperator
        from airflow.sdk import DAG, task
        from airflow.sdk.exceptions import AirflowException, AirflowFailException
    except ImportError:  # Airflow 2
        from airflow import DAG
        from airflow.decorators import task
        from airflow.exceptions import AirflowException, AirflowFailException
        from airflow.operators.bash import BashOperator
except ImportError:  # imported by the tests, without Airflow
    DAG = None


if DAG is not None:

    class TxlakeOperator(BashOperator):
        """A BashOperator that retries only txlake's temporary failures.

        Exit 75 raises the usual failure, so the task's retries apply; any
        other non-zero exit (1, 2, 3, 4) fails the task without retrying.
        """

        def execute(self, context):
            try:
                return super().execute(context)
            except AirflowException as e:
                code = exit_code_of(e)
                if code is not None and outcome(code) in ("fail", "drift"):
                    raise AirflowFailException(
                        f"txlake exited {code} ({outcome(code)}); not retried"
                    ) from e
                raise

    def on_drift(context):
        """Alert hook of the drift task: replace with Slack, e-mail, PagerDuty."""
        ti = context["task_instance"]
        print(f"txlake drift alert: {ti.dag_id}.{ti.task_id} for {context['ds']} failed")

    with DAG(
        dag_id=f"txlake_{INGEST_JOB}",
        schedule="@daily",
        start_date=datetime(2026, 1, 1),
        catchup=False,  # a backfill is `airflow dags backfill`, or `txlake backfill`
        max_active_runs=PARALLEL,  # dates overlap through late events; see PARALLEL
        default_args={
            "retries": 3,
            "retry_delay": timedelta(minutes=5),
            "retry_exponential_backoff": True,
        },
        tags=["txlake"],
    ) as dag:

        @task
        def plan(ds=None) -> list[str]:
            return run_plan(ds)

        runs = TxlakeOperator.partial(task_id="run", max_active_tis_per_dag=PARALLEL).expand(
            bash_command=plan()
        )
        if DRIFT_JOB:
            drift = TxlakeOperator(
                task_id="drift",
                bash_command=shlex.join(txlake_argv(["run", DRIFT_JOB])) + " --date {{ ds }}",
                on_failure_callback=on_drift,
                # runs even when every ingest task was already committed
                # (an empty mapping is skipped), but not after a failure
                trigger_rule="none_failed",
            )
            runs >> drift
