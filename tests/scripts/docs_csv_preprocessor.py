# The record preprocessor of SageMaker's documentation ("Preprocessing and Postprocessing",
# custom preprocessing of CSV data): the output's columns, then the input's, keyed by position.
def preprocess_handler(inference_record):
    input_data = inference_record.endpoint_input.data
    output_data = inference_record.endpoint_output.data.rstrip("\n")
    data = output_data + "," + input_data
    return { str(i).zfill(20) : d for i, d in enumerate(data.split(",")) }
