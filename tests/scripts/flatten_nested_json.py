# Flattens nested JSON requests into one flat row per record: nested keys joined with ".",
# list items by index ("features.0"), the model's score beside them.
import json


def flatten(value, prefix, into):
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else key, into)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{prefix}.{index}", into)
    else:
        into[prefix] = value
    return into


def preprocess_handler(inference_record, logger):
    request = json.loads(inference_record.endpoint_input.data)
    row = flatten(request, "", {})
    if inference_record.endpoint_output is not None:
        row["score"] = json.loads(inference_record.endpoint_output.data)["score"]
    if not row:
        logger.warning("event %s: empty request", inference_record.event_metadata.event_id)
    return row
