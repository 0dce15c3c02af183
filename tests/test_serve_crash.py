"""`modelmon serve` killed with SIGKILL at random moments while writers change schedules,
restarted on the same state, in a loop: after every restart each acknowledged write is there,
nothing is half-written (every state file reads back, and serve's own start-up check names
none), and every schedule record has its timer and every timer its record.

A SIGKILL ends the process, not the machine: it tests that writes are atomic and acknowledged
only once done, and that a restart finishes or undoes what was cut short. (That the fsyncs make
them survive a power cut too is the adapters' design, measured in BENCHMARKS.md, not testable
here.) Bounded: ROUNDS rounds of about a second of load each, on 127.0.0.1 only. The kill times
and the writers' choices are seeded.
"""

import json
import random
import subprocess
import threading
import time

import boto3
import botocore.exceptions
from botocore.config import Config

from test_serve_api import BASELINE, START_TIMEOUT, first_line, job_definition, modelmon_bin

ROUNDS = 6
WRITERS = 6
OWN_AT_MOST = 3


class Serve:
    """One `modelmon serve` on `state`; `report` is what it printed about the state it found."""

    def __init__(self, state):
        self.log = open(state.parent / f"{state.name}.log", "ab")
        self.process = subprocess.Popen(
            [modelmon_bin(), "serve", "--port", "0", "--state", str(state)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = first_line(self.process, START_TIMEOUT)
        prefix = "modelmon serve: listening on "
        assert line.startswith(prefix), f"serve did not start: {line!r} (exit code {self.process.poll()})"
        self.url = line[len(prefix):].split()[0]
        # The report of the state it found follows at once, its summary last.
        self.report = []
        while not self.report or not self.report[-1].startswith("modelmon serve: state checked: "):
            line = self.process.stdout.readline()
            assert line, f"serve ended its report early: {self.report}"
            self.report.append(line.strip())

    def client(self):
        return boto3.client(
            "sagemaker",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()


GONE = None


def create_request_for(name, expression):
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": job_definition("crash-endpoint", BASELINE),
            "MonitoringType": "DataQuality",
        },
    }


def schedule_state(hour, stopped=False):
    """What a schedule must look like: its daily hour and whether it is stopped."""
    return {"hour": hour, "stopped": stopped}


class Writer(threading.Thread):
    """Creates, updates, stops, starts and deletes schedules of its own until the server dies.

    `acknowledged[name]` is the state of each of its schedules after the last answered write
    (GONE when deleted); `in_flight` is (name, the state if the unanswered write took effect).
    """

    def __init__(self, serve, prefix, seed):
        super().__init__(daemon=True)
        self.client = serve.client()
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.acknowledged = {}
        self.in_flight = None
        self.unexpected = []
        self.created = 0

    def live(self):
        return [name for name, state in self.acknowledged.items() if state is not GONE]

    def next_write(self):
        live = self.live()
        choice = self.rng.choice(["create", "update", "stop", "start", "delete"])
        if not live or (choice == "create" and len(live) < OWN_AT_MOST):
            name = f"{self.prefix}-{self.created}"
            self.created += 1
            hour = self.rng.randrange(24)
            request = create_request_for(name, f"cron(0 {hour} ? * * *)")
            return name, lambda: self.client.create_monitoring_schedule(**request), schedule_state(hour)
        name = self.rng.choice(live)
        current = self.acknowledged[name]
        if choice == "update":
            hour = self.rng.randrange(24)
            request = create_request_for(name, f"cron(0 {hour} ? * * *)")
            request.pop("Tags", None)
            after = schedule_state(hour, current["stopped"])
            return name, lambda: self.client.update_monitoring_schedule(**request), after
        if choice in ("stop", "start"):
            call = getattr(self.client, f"{choice}_monitoring_schedule")
            after = schedule_state(current["hour"], choice == "stop")
            return name, lambda: call(MonitoringScheduleName=name), after
        return name, lambda: self.client.delete_monitoring_schedule(MonitoringScheduleName=name), GONE

    def run(self):
        while True:
            name, write, after = self.next_write()
            self.in_flight = (name, after)
            try:
                write()
            except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError):
                return  # the server is gone; the write may or may not have happened
            except botocore.exceptions.ClientError as err:
                self.unexpected.append(f"{name}: {err}")
                return
            self.acknowledged[name] = after
            self.in_flight = None


def state_files(state):
    """Every JSON file modelmon keeps under `state` (not the temp files of interrupted writes)."""
    files = [path for path in (state / "table").rglob("*.json") if not path.name.startswith(".")]
    timers = state / "scheduler.json"
    return files + ([timers] if timers.exists() else [])


def described(client, name):
    try:
        record = client.describe_monitoring_schedule(MonitoringScheduleName=name)
    except client.exceptions.ResourceNotFound:
        return GONE
    expression = record["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
    hour = int(expression.split()[1])
    return schedule_state(hour, record["MonitoringScheduleStatus"] == "Stopped")


def test_acknowledged_writes_survive_sigkill_and_restart(tmp_path):
    state = tmp_path / "state"
    rng = random.Random(17)
    writers = []
    serve = Serve(state)
    assert serve.report == [
        "modelmon serve: state checked: empty; 0 unreadable; 0 repaired; 0 temp files of interrupted writes removed"
    ]
    repaired_total = 0
    for round_number in range(ROUNDS):
        round_writers = [Writer(serve, f"r{round_number}-w{i}", rng.randrange(1 << 30)) for i in range(WRITERS)]
        for writer in round_writers:
            writer.start()
        time.sleep(rng.uniform(0.3, 1.2))
        serve.kill()
        for writer in round_writers:
            writer.join(timeout=30)
            assert not writer.is_alive(), "a writer hung after the kill"
            assert not writer.unexpected, writer.unexpected
        writers += round_writers
        assert sum(len(w.acknowledged) for w in round_writers) > 0, "no write was acknowledged this round"

        # Nothing half-written: every file reads back, by our reading and by serve's.
        for path in state_files(state):
            json.loads(path.read_text())
        serve = Serve(state)
        assert "; 0 unreadable;" in serve.report[-1], serve.report
        assert not any(line.startswith("modelmon serve: cannot read back") for line in serve.report), serve.report
        repaired_total += sum(1 for line in serve.report if line.startswith("modelmon serve: repaired "))

        # Every acknowledged write is there (a write that was in flight at the kill may or may
        # not have happened; the restart finished or undid it).
        client = serve.client()
        for writer in writers:
            for name, acknowledged in writer.acknowledged.items():
                allowed = [acknowledged]
                if writer.in_flight and writer.in_flight[0] == name:
                    allowed.append(writer.in_flight[1])
                found = described(client, name)
                assert found in allowed, f"round {round_number}: {name} is {found}, acknowledged {acknowledged}"
            if writer.in_flight and writer.in_flight[0] not in writer.acknowledged:
                # A create that got no answer: there or not, but whole.
                name = writer.in_flight[0]
                assert described(client, name) in (GONE, writer.in_flight[1]), name

        # Records and timers agree.
        timers = json.loads((state / "scheduler.json").read_text())["schedules"]
        paginator = client.get_paginator("list_monitoring_schedules")
        records = {
            summary["MonitoringScheduleName"]: summary["MonitoringScheduleStatus"]
            for page in paginator.paginate(PaginationConfig={"PageSize": 100})
            for summary in page["MonitoringScheduleSummaries"]
        }
        assert sorted(records) == sorted(timers), (sorted(records), sorted(timers))
        for name, status in records.items():
            assert timers[name]["enabled"] == (status != "Stopped"), (name, status, timers[name])
    serve.kill()
    print(f"{ROUNDS} kills, {repaired_total} repairs at restart")
