# The handler is misspelled: SageMaker's contract needs preprocess_handler.
def preprocess(inference_record):
    return {"value": inference_record.endpoint_input.data}
