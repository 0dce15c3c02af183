import os


def postprocess_handler():
    with open(os.path.join(os.environ["output_path"], "note.txt"), "w") as f:
        f.write("started\n")
    raise RuntimeError("the alerting service is unreachable")
