# Fails on the records it cannot read: a request without an "age", or an age that is no number.
import json


def preprocess_handler(inference_record):
    request = json.loads(inference_record.endpoint_input.data)
    age = request["age"]
    return {"age": int(age), "plan": request.get("plan")}
