"""Runs SageMaker Model Monitor's user scripts with SageMaker's contract: the record preprocessor
(`preprocess_handler(inference_record[, logger])`, once per record) and the post-analytics
processor (`postprocess_handler()`, once after a successful analysis).

One request in, one response out, both JSON (the protocol is `modelmon_formats::scripts` on the
Rust side). The same code serves the scripts Lambda function (`handler.py`) and modelmon's local
runs, where `python3 runner.py` answers one request per line on stdin.

Standard library only, Python 3.8 or newer: it runs wherever the user's own Python does.
"""

import base64
import contextlib
import gc
import hashlib
import inspect
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import traceback
import types
import urllib.request

PROTOCOL = 1
PREPROCESS_HANDLER = "preprocess_handler"
POSTPROCESS_HANDLER = "postprocess_handler"
# Longest exception message kept per record: the Rust side keeps a few examples, not essays.
MESSAGE_CHARS = 500
# Compact JSON; one encoder for every result (json.dumps with options makes one per call).
to_json = json.JSONEncoder(separators=(",", ":")).encode


# ----------------------------------------------------------------------------- the record API
# The classes SageMaker's container hands to preprocess_handler, with its attribute names
# (camelCase where SageMaker's are).


class EventData:
    """One side of a capture record: `endpoint_input`, `endpoint_output`, ..."""

    __slots__ = ("_d",)

    def __init__(self, data):
        self._d = data

    @property
    def encoding(self):
        return self._d.get("encoding")

    @property
    def data(self):
        return self._d.get("data")

    @property
    def observedContentType(self):  # noqa: N802 - SageMaker's name
        return self._d.get("observedContentType")

    @property
    def mode(self):
        return self._d.get("mode")

    def __repr__(self):
        return "EventData(%r)" % (self._d,)


class EventMetadata:
    __slots__ = ("_d",)

    def __init__(self, data):
        self._d = data

    @property
    def event_id(self):
        return self._d.get("eventId")

    @property
    def event_time(self):
        """The capture's `inferenceTime`."""
        return self._d.get("inferenceTime")

    @property
    def custom_attribute(self):
        return self._d.get("customAttributes")

    @property
    def inference_id(self):
        return self._d.get("inferenceId")

    def __repr__(self):
        return "EventMetadata(%r)" % (self._d,)


class LegacyEventData:
    """`inference_record.event_data.endpointInput`: the spelling of older SageMaker examples."""

    __slots__ = ("_d",)

    def __init__(self, capture):
        self._d = capture

    @property
    def endpointInput(self):  # noqa: N802
        return _part(self._d, "endpointInput")

    @property
    def endpointOutput(self):  # noqa: N802
        return _part(self._d, "endpointOutput")

    @property
    def batchTransformOutput(self):  # noqa: N802
        return _part(self._d, "batchTransformOutput")


def _part(capture, name):
    part = capture.get(name)
    return EventData(part) if isinstance(part, dict) else None


class InferenceRecord:
    """One capture record (a line of SageMaker's data capture)."""

    __slots__ = ("_d",)

    def __init__(self, record):
        self._d = record

    @property
    def _capture(self):
        return self._d.get("captureData") or {}

    @property
    def event_metadata(self):
        return EventMetadata(self._d.get("eventMetadata") or {})

    @property
    def endpoint_input(self):
        return _part(self._capture, "endpointInput")

    @property
    def endpoint_output(self):
        return _part(self._capture, "endpointOutput")

    @property
    def batch_transform_output(self):
        return _part(self._capture, "batchTransformOutput")

    @property
    def ground_truth(self):
        part = self._d.get("groundTruthData")
        return EventData(part) if isinstance(part, dict) else None

    @property
    def event_version(self):
        return self._d.get("eventVersion")

    @property
    def event_dict(self):
        return self._d

    @property
    def event_data(self):
        return LegacyEventData(self._capture)

    def as_dict(self):
        return self._d

    def __repr__(self):
        return "InferenceRecord(%r)" % (self._d,)


# ----------------------------------------------------------------------------- loading a script


class ScriptFailure(Exception):
    """The script cannot run at all: it does not import, or lacks its handler."""

    def __init__(self, error_type, message, line=None, trace=None):
        super().__init__(message)
        self.info = {"type": error_type, "message": message, "line": line, "traceback": trace}


def script_line(tb, origin):
    """The line of `origin` nearest the failure in `tb` (None when the script is not in it)."""
    line = None
    for frame, number in traceback.walk_tb(tb):
        if frame.f_code.co_filename == origin:
            line = number
    return line


def exception_info(error, origin):
    return {
        "type": type(error).__name__,
        "message": str(error)[:MESSAGE_CHARS],
        "line": script_line(error.__traceback__, origin),
    }


_modules = {}


def load_handler(script, handler_name, environment):
    """The script's handler. The module is kept, keyed by the script and the job's environment
    (a script may read the environment at import time), so the batches after the first import
    nothing."""
    origin, source = script["origin"], script["source"]
    key = hashlib.sha256(
        json.dumps([origin, source, handler_name, sorted(environment.items())]).encode()
    ).hexdigest()
    if key in _modules:
        return _modules[key]
    name = "modelmon_script_" + key[:16]
    module = types.ModuleType(name)
    module.__file__ = origin
    sys.modules[name] = module  # dataclasses, pickle and typing look modules up here
    try:
        code = compile(source, origin, "exec")
        exec(code, module.__dict__)  # noqa: S102 - running the user's script is the point
    except SyntaxError as error:
        del sys.modules[name]
        raise ScriptFailure(type(error).__name__, error.msg, error.lineno, _excerpt(error.text))
    except BaseException as error:  # noqa: BLE001 - whatever the import does, it fails the run
        del sys.modules[name]
        info = exception_info(error, origin)
        raise ScriptFailure(info["type"], info["message"], info["line"], traceback.format_exc())
    handler = module.__dict__.get(handler_name)
    if not callable(handler):
        expected = {
            PREPROCESS_HANDLER: "def preprocess_handler(inference_record) or "
            "def preprocess_handler(inference_record, logger)",
            POSTPROCESS_HANDLER: "def postprocess_handler()",
        }[handler_name]
        found = "no %s" % handler_name if handler is None else "%s is not a function" % handler_name
        raise ScriptFailure(
            "NotImplementedError",
            "%s: the script has %s; SageMaker's contract needs %s" % (origin, found, expected),
        )
    _modules.clear()  # one script at a time is the common case; do not grow without bound
    _modules[key] = handler
    return handler


def _excerpt(text):
    return text.strip() if text else None


def positional_arity(handler):
    """How many positional arguments the handler takes (at most 2 matter), or None if unknown."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind == parameter.VAR_POSITIONAL:
            return 2
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def required_positional(handler):
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return 0
    return sum(
        1
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


# ----------------------------------------------------------------------------- results


class BadReturn(Exception):
    """preprocess_handler returned something that is not rows."""


# The types a value of a row is sent as without conversion (floats too, when finite).
PLAIN = {str, int, bool, type(None)}
PLAIN_AND_FLOAT = PLAIN | {float}


def json_scalar(value, key):
    """`value` as JSON: numbers, strings, booleans, None. NaN is missing (as in Parquet input);
    infinities are Java's text; numpy scalars are unwrapped; anything nested is refused.
    `key()` names the value for an error."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return None if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (dict, list, tuple, set)):
        raise BadReturn(
            "preprocess_handler returned a nested value (%s) for %s: return flat records "
            "(flatten nested payloads in the script)" % (kind.__name__, key())
        )
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        return json_scalar(item(), key)
    for plain in (bool, int, float, str):  # subclasses: IntEnum, str enums, ...
        if isinstance(value, plain):
            return json_scalar(plain(value), key)
    if kind.__name__ == "Decimal":
        return json_scalar(float(value), key)
    raise BadReturn(
        "preprocess_handler returned a value of type %s for %s, which is not a JSON value"
        % (kind.__name__, key())
    )


def json_values(values, name):
    """The values as JSON; `name(i)` names the i-th for an error. A row of plain values (the
    usual case) is checked with C loops (map, set) and sent as it is."""
    kinds = set(map(type, values))
    if kinds <= PLAIN:
        return values
    if kinds <= PLAIN_AND_FLOAT and all(map(math.isfinite, [v for v in values if type(v) is float])):
        return values
    return [json_scalar(v, lambda i=i: name(i)) for i, v in enumerate(values)]


class KeySets:
    """The key lists of a response's named rows, each sent once."""

    def __init__(self):
        self.index = {}
        self.lists = []
        self.new_bytes = 0

    def of(self, keys):
        found = self.index.get(keys)
        if found is None:
            bad = [k for k in keys if type(k) not in PLAIN_AND_FLOAT]
            if bad:
                raise BadReturn(
                    "preprocess_handler returned a dict with a key of type %s (%r): keys are "
                    "column names" % (type(bad[0]).__name__, bad[0])
                )
            found = self.index[keys] = len(self.lists)
            # As JSON writes non-string keys of a dict.
            self.lists.append([k if type(k) is str else json.dumps(k).strip('"') for k in keys])
            self.new_bytes += len(to_json(self.lists[-1])) + 1
        return found


def named_row(mapping, key_sets):
    keys = tuple(mapping)
    values = json_values(list(mapping.values()), lambda i: "key %r" % (keys[i],))
    return {"k": key_sets.of(keys), "v": values}


def positional_row(values):
    return {"v": json_values(list(values), lambda i: "position %d" % i)}


def encode_result(returned, key_sets):
    """What one record's handler returned, as the protocol's result (None: dropped)."""
    if returned is None:
        return None
    if isinstance(returned, dict):
        return {"rows": [named_row(returned, key_sets)]}
    if isinstance(returned, (str, bytes)):
        text = returned.decode("utf-8") if isinstance(returned, bytes) else returned
        return {"csv": text}
    if isinstance(returned, (list, tuple)):
        if not returned:
            return None
        if all(isinstance(item, dict) for item in returned):
            return {"rows": [named_row(item, key_sets) for item in returned]}
        if all(isinstance(item, (list, tuple)) for item in returned):
            return {"rows": [positional_row(item) for item in returned]}
        if any(isinstance(item, (dict, list, tuple)) for item in returned):
            raise BadReturn(
                "preprocess_handler returned a list mixing rows and values: return a dict, "
                "a list of dicts, a list of values or a CSV string"
            )
        return {"rows": [positional_row(returned)]}
    raise BadReturn(
        "preprocess_handler returned a value of type %s; expected a dict (one row by key), a list of dicts "
        "(several rows), a list of values or a CSV string (by position), or [] / None (drop "
        "the record)" % type(returned).__name__
    )


# ----------------------------------------------------------------------------- the handlers


def logger_for(handler_name):
    logger = logging.getLogger("modelmon." + handler_name)
    if not logger.handlers:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(stream)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def record_object(record, record_format):
    """What the handler is given: SageMaker's record object for capture, the line for CSV, the
    parsed value for JSON Lines (as the container does for a baselining job's dataset)."""
    if record_format == "capture":
        return InferenceRecord(record)
    return record


def preprocess(request):
    script = request["script"]
    origin = script["origin"]
    record_format = request.get("record_format", "capture")
    handler = load_handler(script, PREPROCESS_HANDLER, request.get("environment") or {})
    arity = positional_arity(handler)
    if arity == 0 or required_positional(handler) > 2:
        raise ScriptFailure(
            "TypeError",
            "%s: preprocess_handler must take (inference_record) or (inference_record, logger)"
            % origin,
        )
    logger = logger_for(PREPROCESS_HANDLER)
    with_logger = arity is not None and arity >= 2
    budget = request.get("max_response_bytes") or float("inf")
    key_sets = KeySets()
    parts = []
    used = 64 + len(origin)
    with collector_paused():
        for record in request["records"]:
            given = record_object(record, record_format)
            try:
                returned = handler(given, logger) if with_logger else handler(given)
            except (Exception, SystemExit) as error:  # noqa: BLE001 - the record is rejected with it
                result = {"error": exception_info(error, origin)}
            else:
                try:
                    result = encode_result(returned, key_sets)
                except BadReturn as error:
                    result = {"error": {"type": "TypeError", "message": str(error), "line": None}}
            text = to_json(result)
            used += len(text) + 1 + key_sets.new_bytes
            key_sets.new_bytes = 0
            # Always one result per answer, so the caller makes progress; it sends the rest again.
            if parts and used > budget:
                break
            parts.append(text)
    return (
        '{"protocol":%d,"results":[%s],"key_sets":%s}'
        % (PROTOCOL, ",".join(parts), to_json(key_sets.lists))
    ).encode()


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic collector off for a batch: it would scan the batch's records again and
    again (a quarter of the time for 10,000 records); a batch is bounded, so it can wait."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def fetch_inputs(inputs, work):
    for item in inputs:
        path = os.path.join(work, item["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if "base64" in item:
            with open(path, "wb") as out:
                out.write(base64.b64decode(item["base64"]))
        else:
            with urllib.request.urlopen(item["url"], timeout=60) as response, open(path, "wb") as out:
                shutil.copyfileobj(response, out)


def written_files(output, given):
    """The files under `output` except those it was given (the analysis' own reports)."""
    files = []
    for folder, dirs, names in os.walk(output):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, output).replace(os.sep, "/")
            if relative not in given:
                files.append((relative, path))
    return files


def postprocess(request):
    script = request["script"]
    origin = script["origin"]
    work = tempfile.mkdtemp(prefix="modelmon-postprocess-")
    try:
        fetch_inputs(request.get("inputs", []), work)
        for name, relative in request.get("paths", {}).items():
            os.environ[name] = os.path.join(work, relative)
        output = os.environ.get("output_path") or os.path.join(work, "output")
        os.makedirs(output, exist_ok=True)
        handler = load_handler(script, POSTPROCESS_HANDLER, request.get("environment") or {})
        if required_positional(handler) > 0:
            raise ScriptFailure("TypeError", "%s: postprocess_handler must take no arguments" % origin)
        try:
            handler()
        except (Exception, SystemExit) as error:  # noqa: BLE001 - it fails the execution
            info = exception_info(error, origin)
            raise ScriptFailure(info["type"], info["message"], info["line"], traceback.format_exc())
        given = {
            os.path.relpath(os.path.join(work, item["path"]), output).replace(os.sep, "/")
            for item in request.get("inputs", [])
        }
        limit = request.get("max_output_bytes")
        files, total = [], 0
        for relative, path in written_files(output, given):
            with open(path, "rb") as f:
                data = f.read()
            total += len(data)
            if limit is not None and total > limit:
                raise ScriptFailure(
                    "OutputTooLarge",
                    "%s: postprocess_handler wrote more than %d bytes under output_path; the "
                    "scripts function returns at most that much (Lambda's 6 MB response limit)"
                    % (origin, limit),
                )
            files.append({"path": relative, "base64": base64.b64encode(data).decode()})
        return {"protocol": PROTOCOL, "files": files}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ping(request):
    return {"protocol": PROTOCOL, "python": platform.python_version()}


HANDLERS = {"preprocess": preprocess, "postprocess": postprocess, "ping": ping}


def handle(request, base_environment):
    """One request: the answer as JSON bytes. A script that cannot run answers `failure`."""
    os.environ.clear()
    os.environ.update(base_environment)
    os.environ.update(request.get("environment") or {})
    try:
        answer = HANDLERS[request["handler"]](request)
    except ScriptFailure as failure:
        answer = {"protocol": PROTOCOL, "failure": failure.info}
    finally:
        os.environ.clear()
        os.environ.update(base_environment)
    if isinstance(answer, bytes):
        return answer
    return to_json(answer).encode()


def serve(requests, answers):
    """Answers one request per line of `requests` with one line on `answers`."""
    base = dict(os.environ)
    for line in requests:
        if not line.strip():
            continue
        answers.write(handle(json.loads(line), base) + b"\n")
        answers.flush()


def main():
    if sys.version_info < (3, 8):
        sys.stderr.write("modelmon's script runner needs Python 3.8 or newer\n")
        return 2
    # The protocol keeps the real stdin and stdout; the scripts' print() and anything reading
    # stdin get stderr and nothing.
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    serve(requests, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
