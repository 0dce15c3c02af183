# A post-analytics processor: reads the run's reports from output_path and writes a summary
# beside them, with the schedule's name from the job's environment.
import json
import os


def postprocess_handler():
    output = os.environ["output_path"]
    with open(os.path.join(output, "constraint_violations.json")) as f:
        violations = json.load(f)["violations"]
    with open(os.path.join(output, "statistics.json")) as f:
        statistics = json.load(f)
    summary = {
        "schedule": os.environ.get("sagemaker_monitoring_schedule_name"),
        "team": os.environ.get("team"),
        "items": statistics["dataset"]["item_count"],
        "violations": sorted(v["feature_name"] + ":" + v["constraint_check_type"] for v in violations),
    }
    os.makedirs(os.path.join(output, "custom"), exist_ok=True)
    with open(os.path.join(output, "custom", "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print("postprocessor_summary.py wrote custom/summary.json")
