"""Checks txlake_dag.py's commands against the real `txlake plan` output.

Run by cmd/txlake/airflow_test.go:

    python test_txlake_dag.py --bin BIN --jobs JOBS --job pay --date D --shards N

It imports the DAG file (with Airflow when installed, else its plain-Python
part), builds the mapped commands from `txlake plan`, checks them against
the plan's tasks, runs them as BashOperator would (bash -c), and checks that
a second plan leaves nothing to run. It prints OK and exits 0 on success.
"""

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--jobs", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--shards", type=int, default=1)
    a = ap.parse_args()
    os.environ.update(
        TXLAKE_BIN=a.bin,
        TXLAKE_JOBS=a.jobs,
        TXLAKE_DAG_JOB=a.job,
        TXLAKE_DAG_SHARDS=str(a.shards),
        TXLAKE_DAG_DRIFT_JOB="",
    )
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("txlake_dag", os.path.join(here, "txlake_dag.py"))
    dag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dag)

    # The exit-code policy of DESIGN.md.
    assert [dag.outcome(c) for c in (0, 1, 2, 3, 4, 75)] == ["ok", "fail", "fail", "drift", "fail", "retry"]
    assert dag.exit_code_of(RuntimeError("Bash command failed. The command returned a non-zero exit code 75.")) == 75
    assert dag.exit_code_of(RuntimeError("no code")) is None

    plan = json.loads(subprocess.run(dag.plan_argv(a.job, a.date, a.shards), check=True, capture_output=True, text=True).stdout)
    want = []
    for t in plan["tasks"]:
        assert t["date"] == a.date, t
        if t["status"] == "committed":
            continue
        argv = [a.bin, "run", a.job, "--date", a.date]
        if a.shards > 1:
            argv += ["--shard", t["shard"]]
        want.append(shlex.join(argv + ["--jobs", a.jobs]))
    got = dag.run_plan(a.date)
    assert got == want, f"DAG commands {got}\n      plan wants {want}"
    assert got or a.shards > 1, "the plan has nothing to run; the test needs pending tasks"
    for cmd in got:
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stderr}"
    left = dag.run_plan(a.date)
    assert left == [], f"after running the mapped commands the plan still has {left}"

    if dag.DAG is not None:
        d = dag.dag
        assert sorted(d.task_ids) == ["plan", "run"], d.task_ids
        # The operator retries 75 only: other codes fail without retry.
        for code, want in ((0, None), (4, dag.AirflowFailException), (1, dag.AirflowFailException), (75, dag.AirflowException)):
            op = dag.TxlakeOperator(task_id=f"exit{code}", bash_command=f"exit {code}")
            try:
                op.execute(context={})
                raised = None
            except dag.AirflowException as e:
                raised = type(e)
            assert raised is want, f"exit {code}: raised {raised}, want {want}"
        print("airflow: DAG", d.dag_id, "imported with tasks", sorted(d.task_ids), "; exit 75 retried, 1 and 4 not")
    else:
        print("airflow: not installed; checked the DAG's commands only")
    print(f"OK: {len(got)} mapped command(s) ran; {plan['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
