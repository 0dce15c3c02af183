# Flattens nested JSON requests into one flat row per record: nested keys joined with ".",
# list items by index ("features.0"), the model's score beside them. The same script serves a
# schedule (capture records) and a baselining job (a JSON Lines dataset's records, which the
# handler gets already parsed). A record with nothing in it is dropped.
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
    if isinstance(inference_record, dict):
        row, event = flatten(inference_record, "", {}), "a dataset record"
    else:
        row = flatten(json.loads(inference_record.endpoint_input.data), "", {})
        if inference_record.endpoint_output is not None:
            row["score"] = json.loads(inference_record.endpoint_output.data)["score"]
        event = f"event {inference_record.event_metadata.event_id}"
    if not row:
        logger.warning("%s: empty request, dropped", event)
        return []
    return row
