# A CSV request `age,plan` as one row keyed by name, in another order than the baseline's
# features: modelmon maps keys by name, so the columns line up.
def preprocess_handler(inference_record):
    age, plan = inference_record.endpoint_input.data.split(",")
    return {"plan": plan, "age": int(age)}
