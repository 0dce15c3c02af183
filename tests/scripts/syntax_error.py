import json


def preprocess_handler(inference_record)
    return json.loads(inference_record.endpoint_input.data)
