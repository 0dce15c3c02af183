#!/usr/bin/env python3
"""Checks template.yaml against the Rust code it deploys. Stdlib + PyYAML only.

a. env:     every environment variable a function's code reads is set for that function in the
            template (and nothing the code never reads is set). The variables are derived from
            the code: the settings constructors a function's main.rs calls
            (`X::from_env()`, `required("X")`, `optional("X")`) and the `required`/`optional`/`number` calls
            inside each `impl X { pub fn from_env` block of shared/cloud/src/config.rs, plus the
            `std::env::var("X")` reads of the adapters main.rs constructs.
b. actions: the AWS actions a function's code can call equal the actions its template policy
            allows (missing and extra are both failures). Derived from the code: the adapters
            main.rs constructs (`DynamoTable::new`, `S3Store::new`, ...); the SDK operations each
            adapter method calls (`.client.put_item()` -> dynamodb:PutItem, ...; `iam:PassRole`
            when a schedule target carries a `role_arn`); and which port methods
            (`table.get`, `store.list`, ...) the function's code can reach, by a name-based
            call graph over the function crate and shared/cloud/src (an over-approximation:
            a name reaches every function of that name). Test-only code (`#[cfg(test)]` items,
            free functions in the adapters such as `create_table`) is ignored.

Python functions (the scripts function, users' code) are held to the same two checks: the
upper-case variables their code reads (`os.environ["X"]`, `os.environ.get("X")`, `os.getenv`;
lower-case ones are the SageMaker job's own, set per request) are the ones the template sets, and
since their code imports no AWS SDK (importing boto3 or botocore is itself a failure), their
policy must allow nothing.

Usage: python3 infra/check_template.py [--verbose]; exit status 1 on any failure.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CLOUD_SRC = ROOT / "shared" / "cloud" / "src"
AWS_SRC = CLOUD_SRC / "aws"

# Set by Lambda itself for every function (the trace id for each invocation).
SET_BY_LAMBDA = {"AWS_REGION", "_X_AMZN_TRACE_ID"}
# Read by the code but deliberately left unset in the template, with the reason.
DELIBERATELY_UNSET = {
    "S3_FORCE_PATH_STYLE": "only for S3 emulators such as moto; real S3 uses virtual-hosted addressing",
}
# The IAM action of an SDK operation, where it is not `<service>:<OperationInCamelCase>`.
IAM_ACTION_OF = {"s3:ListObjectsV2": "s3:ListBucket", "lambda:Invoke": "lambda:InvokeFunction"}
# The IAM prefix of an SDK crate (`aws_sdk_<crate>`), where it is not the crate's name.
IAM_PREFIX_OF = {"cloudwatchlogs": "logs", "sfn": "states"}
# Free functions of the adapter modules that only tests and local stacks call.
TEST_ONLY_FUNCTIONS = {"create_table", "create_group"}
RUST_KEYWORDS = {"if", "match", "while", "for", "loop", "return", "Some", "Ok", "Err", "fn", "move", "as", "in"}


# ----------------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags (`!Ref`, ...)."""


def _intrinsic(loader: yaml.Loader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


# ----------------------------------------------------------------------------------- Rust


def mask(source: str) -> tuple[str, str]:
    """(code, code_with_strings): comments blanked in both; string contents blanked in the first.
    Lengths are kept, so offsets agree between the two and with the source."""
    code, strings = list(source), list(source)
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                code[k] = strings[k] = " "
            i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if source[k] != "\n":
                    code[k] = strings[k] = " "
            i = j
        elif c == "r" and re.match(r'r#*"', source[i:]) and not (i and (source[i - 1].isalnum() or source[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', source[i:]).group(1)
            start = i + 2 + len(hashes)
            j = source.find('"' + hashes, start)
            j = n if j < 0 else j
            for k in range(start, j):
                code[k] = " "
            i = j + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                code[k] = " "
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", source[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", source[i:]).group(0))
        else:
            i += 1
    return "".join(code), "".join(strings)


def matching_brace(code: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced braces")


def strip_tests(code: str, strings: str) -> tuple[str, str]:
    """Blanks every `#[cfg(test)]` item (a module, a function, a `use`) in both texts."""
    while (m := re.search(r"#\[cfg\(test\)\]", code)):
        brace, semi = code.find("{", m.end()), code.find(";", m.end())
        end = semi if brace < 0 or (0 <= semi < brace) else matching_brace(code, brace)
        blank = re.sub(r"[^\n]", " ", code[m.start() : end + 1])
        code = code[: m.start()] + blank + code[end + 1 :]
        strings = strings[: m.start()] + blank + strings[end + 1 :]
    return code, strings


@dataclass
class RustFn:
    name: str
    path: Path
    impl: str | None  # the impl header (`Table for DynamoTable`, `ControlSettings`), None if free
    body: str  # masked code (no string contents)
    body_strings: str  # with string contents


@dataclass
class RustFile:
    path: Path
    code: str
    strings: str
    fns: list[RustFn] = field(default_factory=list)


def parse_rust(path: Path) -> RustFile:
    code, strings = mask(path.read_text())
    code, strings = strip_tests(code, strings)
    file = RustFile(path, code, strings)
    impls = []
    for m in re.finditer(r"^\s*impl(?:<[^>{]*>)?\s+([^{;]+?)\s*\{", code, re.M):
        impls.append((m.end() - 1, matching_brace(code, m.end() - 1), " ".join(m.group(1).split())))
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        brace, semi = code.find("{", m.end()), code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body (a trait's required method)
        end = matching_brace(code, brace)
        impl = next((h for (s, e, h) in impls if s < m.start() < e), None)
        file.fns.append(RustFn(m.group(1), path, impl, code[brace : end + 1], strings[brace : end + 1]))
    return file


def impl_type(header: str) -> str:
    """`Table for DynamoTable` -> DynamoTable; `crate::aws::SchedulerSettings` -> SchedulerSettings."""
    return re.split(r"::", header.split(" for ")[-1].strip())[-1].split("<")[0].strip()


def impl_trait(header: str) -> str | None:
    return header.split(" for ")[0].split("::")[-1].strip() if " for " in header else None


def string_args(text: str, function: str) -> list[str]:
    return re.findall(rf'(?<![\w.]){function}\(\s*"([A-Z0-9_]+)"', text)


# ----------------------------------------------------------------------------------- code model


@dataclass
class Adapter:
    name: str
    service: str
    trait: str | None = None
    methods: dict[str, RustFn] = field(default_factory=dict)
    env: set[str] = field(default_factory=set)

    def actions(self, method: str, seen: frozenset = frozenset()) -> set[str]:
        """The IAM actions `method` can call, through its own `self.x()` calls too."""
        fn = self.methods[method]
        actions = set()
        for op in re.findall(r"\bclient\s*\.\s*(\w+)\s*\(", fn.body):
            camel = "".join(part.capitalize() for part in op.split("_"))
            action = f"{self.service}:{camel}"
            actions.add(IAM_ACTION_OF.get(action, action))
            if op in ("create_schedule", "update_schedule") and self._passes_role(method):
                actions.add("iam:PassRole")
        for callee in re.findall(r"\bself\s*\.\s*(\w+)\s*\(", fn.body):
            if callee in self.methods and callee not in seen:
                actions |= self.actions(callee, seen | {method})
        return actions

    def _passes_role(self, method: str, seen: frozenset = frozenset()) -> bool:
        fn = self.methods[method]
        if re.search(r"\.\s*role_arn\s*\(", fn.body):
            return True
        return any(
            self._passes_role(c, seen | {method})
            for c in re.findall(r"\bself\s*\.\s*(\w+)\s*\(", fn.body)
            if c in self.methods and c not in seen
        )

    def all_actions(self) -> set[str]:
        return set().union(*(self.actions(m) for m in self.methods)) if self.methods else set()


def load_adapters() -> tuple[dict[str, Adapter], list[str]]:
    adapters: dict[str, Adapter] = {}
    problems: list[str] = []
    files = [parse_rust(p) for p in sorted(AWS_SRC.glob("*.rs"))]
    for file in files:
        for m in re.finditer(r"pub\s+struct\s+(\w+)\s*\{([^}]*)\}", file.code):
            service = re.search(r"aws_sdk_(\w+)::Client", m.group(2))
            if service:
                prefix = IAM_PREFIX_OF.get(service.group(1), service.group(1))
                adapters[m.group(1)] = Adapter(m.group(1), prefix)
    for file in files:
        for fn in file.fns:
            if fn.impl is None:
                if re.search(r"\bclient\s*\.\s*\w+\s*\(", fn.body) and fn.name not in TEST_ONLY_FUNCTIONS:
                    problems.append(f"{fn.path.name}: free function {fn.name} calls AWS but is not known to be test-only")
                continue
            adapter = adapters.get(impl_type(fn.impl))
            if adapter is None:
                continue
            adapter.methods[fn.name] = fn
            adapter.trait = impl_trait(fn.impl) or adapter.trait
            adapter.env |= set(string_args(fn.body_strings, r"std::env::var"))
    return adapters, problems


def port_defaults() -> dict[tuple[str, str], set[str]]:
    """Default methods of the port traits: (trait, method) -> the `self.x()` methods it calls."""
    file = parse_rust(CLOUD_SRC / "ports.rs")
    defaults = {}
    for m in re.finditer(r"pub\s+trait\s+(\w+)[^{]*\{", file.code):
        end = matching_brace(file.code, m.end() - 1)
        for fn in re.finditer(r"\bfn\s+(\w+)[^;{]*\{", file.code[m.end() : end]):
            start = m.end() + fn.end() - 1
            body = file.code[start : matching_brace(file.code, start) + 1]
            defaults[(m.group(1), fn.group(1))] = set(re.findall(r"\bself\s*\.\s*(\w+)\s*\(", body))
    return defaults


def settings_env() -> dict[str, set[str]]:
    """Settings type -> the variables its `from_env` reads (shared/cloud/src/config.rs)."""
    result = {}
    for fn in parse_rust(CLOUD_SRC / "config.rs").fns:
        if fn.name == "from_env" and fn.impl:
            names = set()
            for reader in ("required", "optional", "number"):
                names |= set(string_args(fn.body_strings, reader))
            result[impl_type(fn.impl)] = names
    return result


def is_python(resource: dict) -> bool:
    return str(resource.get("Properties", {}).get("Runtime", "")).startswith("python")


def python_functions(template: dict) -> dict[str, Path]:
    """Logical id -> code folder of every Python function."""
    return {
        logical_id: ROOT / resource["Properties"]["CodeUri"]
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function" and is_python(resource)
    }


def python_env_reads(folder: Path) -> set[str]:
    """The deployment's variables (upper case) the Python code in `folder` reads."""
    names = set()
    for path in sorted(folder.glob("*.py")):
        text = path.read_text()
        for pattern in (r'os\.environ\[\s*"([^"]+)"', r'os\.environ\.get\(\s*"([^"]+)"', r'os\.getenv\(\s*"([^"]+)"'):
            names |= {name for name in re.findall(pattern, text) if name == name.upper()}
    return names


def python_sdk_imports(folder: Path) -> list[str]:
    """`file: import boto3` for every import of an AWS SDK in the Python code of `folder`."""
    found = []
    for path in sorted(folder.glob("*.py")):
        for line in path.read_text().splitlines():
            if re.match(r"\s*(import|from)\s+(boto3|botocore|aiobotocore)\b", line):
                found.append(f"{path.name}: {line.strip()}")
    return found


def function_crates(template: dict) -> dict[str, tuple[str, Path]]:
    """Logical id -> (binary, crate dir) for every function built from this workspace."""
    crates = {}
    for cargo in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        name = re.search(r'^name\s*=\s*"([^"]+)"', cargo.read_text(), re.M).group(1)
        crates[name] = cargo.parent
    result = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function" and not is_python(resource):
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if binary not in crates:
                raise SystemExit(f"{logical_id}: Binary {binary!r} is no crate under functions/")
            result[logical_id] = (binary, crates[binary])
    return result


def crate_files(crate: Path) -> list[RustFile]:
    return [parse_rust(p) for p in sorted((crate / "src").rglob("*.rs"))]


def reachable_port_calls(crate: Path, trace: list | None = None) -> set[tuple[str, str]]:
    """(port trait, method) pairs the function's code can reach from its main.rs."""
    shared = [
        parse_rust(p)
        for p in sorted(CLOUD_SRC.rglob("*.rs"))
        if not p.is_relative_to(AWS_SRC) and not p.is_relative_to(CLOUD_SRC / "local")
    ]
    own = crate_files(crate)
    fns: dict[str, list[RustFn]] = {}
    for file in shared + own:
        for fn in file.fns:
            fns.setdefault(fn.name, []).append(fn)
    # Which names hold a port: `table: Arc<dyn Table>`, `store: &Arc<dyn ObjectStore>`, `t: &dyn Table`.
    holders: dict[str, str] = {}
    for file in shared + own:
        for name, trait in re.findall(r"\b(\w+)\s*:\s*&?\s*(?:Arc\s*<\s*)?dyn\s+(\w+)", file.code):
            holders[name] = trait
    roots = [fn for file in own if file.path.name == "main.rs" for fn in file.fns]
    seen, stack, calls = set(), list(roots), set()
    while stack:
        fn = stack.pop()
        key = (fn.path, fn.name, fn.impl)
        if key in seen:
            continue
        seen.add(key)
        # `self.table.get(..)`, `table.get(..)`; not `x.table.get(..)` (someone else's field).
        for holder, method in re.findall(r"(?:\bself\s*\.\s*|(?<![\w.]))(\w+)\s*\.\s*(\w+)\s*\(", fn.body):
            if holder in holders and method not in ("as_ref", "clone"):
                calls.add((holders[holder], method))
                if trace is not None:
                    trace.append(f"{fn.path.relative_to(ROOT)}:{fn.name} -> {holders[holder]}::{method}")
        for prefix, name in re.findall(r"([.:]?)\s*\b([a-z_]\w*)\s*(?:::\s*<[^>]*>\s*)?\(", fn.body):
            if name in RUST_KEYWORDS:
                continue
            candidates = fns.get(name, [])
            if prefix == ".":  # a method: any impl's method of that name
                candidates = [g for g in candidates if g.impl is not None]
            elif prefix == "":  # a bare call: the file's own function if it has one, else an imported one
                local = [g for g in candidates if g.path == fn.path and g.impl is None]
                candidates = local or [g for g in candidates if g.impl is None]
            stack.extend(candidates)
    return calls


# ----------------------------------------------------------------------------------- checks


def template_env(template: dict, logical_id: str) -> set[str]:
    glob = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return set(glob) | set(own)


def check_env(template: dict | None = None) -> list[str]:
    template = template or load_template()
    settings = settings_env()
    adapters, _ = load_adapters()
    failures = []
    for logical_id, (binary, crate) in function_crates(template).items():
        main = parse_rust(crate / "src" / "main.rs")
        read = set(string_args(main.strings, r"std::env::var"))
        for reader in ("required", "optional", "number"):
            read |= set(string_args(main.strings, reader))
        for constructor in re.findall(r"\b(\w+)\s*::\s*from_env\s*\(", main.code):
            if constructor not in settings:
                failures.append(f"{logical_id} ({binary}): {constructor}::from_env is not in config.rs")
            read |= settings.get(constructor, set())
        for adapter in re.findall(r"\b(\w+)\s*::\s*new\s*\(", main.code):
            if adapter in adapters:
                read |= adapters[adapter].env
        needed = read - SET_BY_LAMBDA - set(DELIBERATELY_UNSET)
        present = template_env(template, logical_id)
        for name in sorted(needed - present):
            failures.append(f"{logical_id} ({binary}): reads {name}, which the template does not set")
        for name in sorted(present - read):
            failures.append(f"{logical_id} ({binary}): the template sets {name}, which the code never reads")
        for name in sorted(present & set(DELIBERATELY_UNSET)):
            failures.append(f"{logical_id} ({binary}): sets {name}, listed as deliberately unset")
    for logical_id, folder in python_functions(template).items():
        read = python_env_reads(folder)
        present = template_env(template, logical_id) - set(glob_env(template))
        for name in sorted(read - SET_BY_LAMBDA - present):
            failures.append(f"{logical_id} (Python): reads {name}, which the template does not set")
        for name in sorted(present - read):
            failures.append(f"{logical_id} (Python): the template sets {name}, which the code never reads")
    return failures


def glob_env(template: dict) -> dict:
    return template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})


def policy_actions(template: dict, logical_id: str) -> tuple[set[str], list[str]]:
    actions, problems = set(), []
    for policy in template["Resources"][logical_id]["Properties"].get("Policies", []):
        if not (isinstance(policy, dict) and "Statement" in policy):
            problems.append(f"{logical_id}: policy {policy!r} is not an inline statement list (cannot be checked)")
            continue
        for statement in policy["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            listed = statement.get("Action", [])
            actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions, problems


def code_actions(template: dict, logical_id: str, crate: Path) -> tuple[set[str], set[str], list[str]]:
    """(reachable actions, every action of the constructed adapters, problems)."""
    adapters, problems = load_adapters()
    defaults = port_defaults()
    main = parse_rust(crate / "src" / "main.rs")
    built = [adapters[a] for a in re.findall(r"\b(\w+)\s*::\s*new\s*\(", main.code) if a in adapters]
    everything = set().union(*(a.all_actions() for a in built)) if built else set()
    actions = set()
    for trait, method in sorted(reachable_port_calls(crate)):
        for adapter in (a for a in built if a.trait == trait):
            methods = {method}
            while methods - set(adapter.methods):
                missing = (methods - set(adapter.methods)).pop()
                methods.discard(missing)
                if (trait, missing) not in defaults:
                    problems.append(f"{logical_id}: {adapter.name} has no method {missing} of {trait}")
                    continue
                methods |= defaults[(trait, missing)]
            for m in methods:
                actions |= adapter.actions(m)
    return actions, everything, problems


def check_actions(template: dict | None = None, verbose: bool = False) -> list[str]:
    template = template or load_template()
    failures = []
    for logical_id, (binary, crate) in function_crates(template).items():
        needed, everything, problems = code_actions(template, logical_id, crate)
        allowed, policy_problems = policy_actions(template, logical_id)
        failures += problems + policy_problems
        for action in sorted(needed - allowed):
            failures.append(f"{logical_id} ({binary}): the code calls {action}, the policy does not allow it")
        for action in sorted(allowed - needed):
            failures.append(f"{logical_id} ({binary}): the policy allows {action}, which the code never calls")
        if verbose:
            print(f"{logical_id} ({binary}): code reaches {sorted(needed)}")
            if everything - needed:
                print(f"  (its adapters could also call {sorted(everything - needed)}; unreachable from main.rs)")
    for logical_id, folder in python_functions(template).items():
        for found in python_sdk_imports(folder):
            failures.append(f"{logical_id} (Python): {found}: its code is meant to call no AWS API")
        allowed, policy_problems = policy_actions(template, logical_id)
        failures += policy_problems
        for action in sorted(allowed):
            failures.append(f"{logical_id} (Python): the policy allows {action}, which the code never calls")
        if verbose:
            print(f"{logical_id} (Python): code reaches no AWS action")
    return failures


def main() -> int:
    verbose = "--verbose" in sys.argv
    template = load_template()
    failed = False
    for title, failures in (
        ("environment variables", check_env(template)),
        ("IAM actions", check_actions(template, verbose)),
    ):
        if failures:
            failed = True
            print(f"FAIL {title}:")
            for failure in failures:
                print(f"  - {failure}")
        else:
            print(f"ok   {title}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
