# The older spelling of SageMaker's record API (the SDK's own integration-test preprocessor):
# inference_record.event_data.endpointInput.
import json


def preprocess_handler(inference_record):
    event_data = inference_record.event_data
    row = {}
    if event_data.endpointInput.encoding == "JSON":
        row.update(json.loads(event_data.endpointInput.data))
    if event_data.endpointOutput.encoding == "JSON":
        row.update(json.loads(event_data.endpointOutput.data))
    return row
