"""docs/workflow.md against the parser, and no references to files outside the repository.

The keys the parser accepts are read from the parser's own modules (lifbatch/workflow.py,
sections/*.py and values.py: their key sets, the drive schema and the literal key sets of every
``_check_keys`` call),
so a key added to the parser without documentation fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import lifbatch.sections.inputs
import lifbatch.sections.neuron
import lifbatch.sections.outputs
import lifbatch.sections.sweep
import lifbatch.values
import lifbatch.workflow as wfmod
from lifbatch.errors import WorkflowError
from lifbatch.sections.inputs import DRIVE_KINDS
from lifbatch.sections.neuron import NEURON_KEYS

#: the modules of the parser: the top level and loading, the sections, one value
PARSER = (
    wfmod,
    lifbatch.sections.neuron,
    lifbatch.sections.inputs,
    lifbatch.sections.sweep,
    lifbatch.sections.outputs,
    lifbatch.values,
)

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "workflow.md"


# --------------------------------------------------------------------------- #
# the keys, from the code
# --------------------------------------------------------------------------- #
def _module_names(name: str) -> set[str]:
    """The strings held by a module-level set / dict / tuple / list of the parser's modules."""
    for module in PARSER:
        value = vars(module).get(name)
        if isinstance(value, (set, frozenset, dict, tuple, list)):
            return {k for k in value if isinstance(k, str)}
    return set()


def _literal_strings(node: ast.AST, local: dict[str, ast.AST]) -> set[str]:
    """The strings of an expression giving a set of keys: literals, module constants
    (``TOP_KEYS``) and local names assigned a literal in the same function (``allowed``)."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.add(sub.value)
        elif isinstance(sub, ast.Name):
            if sub.id in local:
                out |= _literal_strings(local[sub.id], {})
            else:
                out |= _module_names(sub.id)
    return out


def _functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _local_literals(func: ast.AST) -> dict[str, ast.AST]:
    """Local names assigned a set / dict / list / tuple literal (or a union of them)."""
    literal = (ast.Set, ast.Dict, ast.List, ast.Tuple, ast.BinOp)
    return {
        n.targets[0].id: n.value
        for n in ast.walk(func)
        if isinstance(n, ast.Assign)
        and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name)
        and isinstance(n.value, literal)
    }


def check_keys_sites() -> dict[str, set[str]]:
    """{``where`` as written at the call, file and line: the keys allowed} for every ``_check_keys`` call."""
    sites: dict[tuple[str, int], tuple[str, set[str]]] = {}
    for module in PARSER:
        tree = ast.parse(inspect.getsource(module))
        file = Path(module.__file__).name
        for func in _functions(tree):
            local = _local_literals(func)
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "_check_keys"
                    and (file, node.lineno) not in sites
                ):
                    where = ast.unparse(node.args[2]) if len(node.args) > 2 else "?"
                    sites[file, node.lineno] = (where, _literal_strings(node.args[1], local))
    return {f"{where} ({file} line {line})": keys for (file, line), (where, keys) in sorted(sites.items())}


def compared_strings(function: str, variable: str) -> set[str]:
    """The strings ``variable`` is compared with in ``function`` (accepted values, e.g. method)."""
    tree = ast.Module(body=[ast.parse(inspect.getsource(m)) for m in PARSER], type_ignores=[])
    out: set[str] = set()
    for func in _functions(tree):
        if func.name != function:
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == variable:
                for comp in node.comparators:
                    out |= {c.value for c in ast.walk(comp) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return out


def parser_keys() -> dict[str, set[str]]:
    """Every key and keyword value the parser accepts, by section."""
    sections = {
        "top level (TOP_KEYS)": set(wfmod.TOP_KEYS),
        "neuron (NEURON_KEYS)": set(NEURON_KEYS),
        "drive kinds (DRIVE_KINDS)": set(DRIVE_KINDS),
    }
    for kind, schema in DRIVE_KINDS.items():
        sections[f"inputs, kind {kind}"] = set(schema) | {"kind"}
    sections.update(check_keys_sites())
    sections["values of method"] = compared_strings("parse", "method")
    sections["values of record.v.trials"] = compared_strings("_parse_record_v", "trials")
    return sections


# --------------------------------------------------------------------------- #
# the doc
# --------------------------------------------------------------------------- #
_FENCE = re.compile(r"^```([A-Za-z]*)\n(.*?)^```", re.S | re.M)
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def code_tokens(text: str) -> set[str]:
    """The identifiers written as code: in fenced blocks and in `inline code`."""
    fenced = [m.group(2) for m in _FENCE.finditer(text)]
    prose = _FENCE.sub("", text)
    inline = re.findall(r"`([^`\n]+)`", prose)
    return set(_TOKEN.findall("\n".join(fenced + inline)))


def doc_sections(text: str) -> dict[str, str]:
    """{heading line: its text up to the next heading}; '#' lines inside fenced blocks are not headings."""
    out, heading, lines, fenced = {}, "", [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("#") and not fenced:
            out[heading] = "\n".join(lines)
            heading, lines = line, []
        else:
            lines.append(line)
    out[heading] = "\n".join(lines)
    return out


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


def test_the_code_is_read():
    """The introspection finds every section of the parser (a refactoring that hides the key
    sets from it must update this test, not silently test nothing)."""
    sites = check_keys_sites()
    calls = sum(inspect.getsource(m).count("_check_keys(") for m in PARSER)  # (defined in messages.py)
    assert len(sites) == calls >= 12, sites
    for where, keys in sites.items():
        assert keys, f"no keys read at the _check_keys call of {where}"
    assert {"euler", "exact"} <= compared_strings("parse", "method")
    assert "all" in compared_strings("_parse_record_v", "trials")


# An unknown key in each section, and the parser's own list of what it allows there.
_BASE = {
    "name": "probe",
    "duration": "10 ms",
    "neuron": {"tau_m": "10 ms", "v_th": "-50 mV", "e_l": "-65 mV", "r_m": "100 Mohm"},
    "inputs": {"drive": {"kind": "constant", "value": "200 pA"}},
}
_AXIS = {"param": "neuron.tau_m", "values": [10], "unit": "ms"}
_PROBES = {
    "top": {"zz_unknown": 1},
    "neuron": {"neuron": {**_BASE["neuron"], "zz_unknown": 1}},
    "sweep axis": {"sweep": {"tau": {**_AXIS, "zz_unknown": 1}}},
    "zip axis": {"sweep": {"tau": {"zip": {"neuron.tau_m": {"values": [10], "unit": "ms"}}, "zz_unknown": 1}}},
    "zipped parameter": {"sweep": {"tau": {"zip": {"neuron.tau_m": {"values": [10], "unit": "ms", "zz_unknown": 1}}}}},
    "noise": {"noise": {"zz_unknown": 1}},
    "record": {"record": {"zz_unknown": 1}},
    "record.v": {"record": {"v": {"zz_unknown": 1}}},
    "summaries": {"summaries": {"zz_unknown": 1}},
    "isi_bins": {"summaries": {"isi_bins": {"linspace": [0, 5, 6], "unit": "ms", "zz_unknown": 1}}},
    "moments": {"summaries": {"moments": {"zz_unknown": 1}}},
    "autocov": {"summaries": {"autocov": {"zz_unknown": 1}}},
    **{f"kind {kind}": {"inputs": {"drive": {"kind": kind, "zz_unknown": 1}}} for kind in DRIVE_KINDS},
}


@pytest.mark.parametrize("section", list(_PROBES))
def test_introspected_keys_are_the_parsers(section):
    """What the code reading finds is what the parser says it allows (its "Allowed here" list)."""
    with pytest.raises(WorkflowError) as info:
        wfmod.load_workflow({**_BASE, **_PROBES[section]})
    m = re.search(r"Allowed here: (.*)\.$", str(info.value))
    assert m, str(info.value)
    allowed = set(m.group(1).split(", "))
    assert allowed in list(parser_keys().values()), (section, allowed)


def test_every_parser_key_is_documented(doc):
    tokens = code_tokens(doc)
    missing = {section: sorted(keys - tokens) for section, keys in parser_keys().items() if keys - tokens}
    assert not missing, f"keys the parser accepts but docs/workflow.md does not show as code: {missing}"


@pytest.mark.parametrize("kind", list(DRIVE_KINDS))
def test_every_drive_kind_has_its_section(doc, kind):
    """Each drive kind has a heading ### `kind` whose section shows each of its fields."""
    sections = doc_sections(doc)
    heads = [h for h in sections if re.fullmatch(rf"#+\s+`{kind}`\s*", h)]
    assert heads, f"docs/workflow.md has no heading `{kind}`"
    missing = sorted(set(DRIVE_KINDS[kind]) - code_tokens(sections[heads[0]]))
    assert not missing, f"the section of `{kind}` does not document {missing}"


def _yaml_blocks() -> list[str]:
    return [m.group(2) for m in _FENCE.finditer(DOC.read_text()) if m.group(1) == "yaml"]


@pytest.mark.parametrize("index", range(len(_yaml_blocks())), ids=lambda i: f"yaml-block-{i + 1}")
def test_doc_examples_load(index, monkeypatch):
    """Every yaml block of the doc is a valid workflow: on its own when it has a name, else
    its top-level keys put over the first block (the minimal workflow)."""
    blocks = _yaml_blocks()
    base = yaml.safe_load(blocks[0])
    assert isinstance(base, dict) and "name" in base
    raw = yaml.safe_load(blocks[index])
    assert isinstance(raw, dict) and set(raw) <= wfmod.TOP_KEYS, blocks[index]
    monkeypatch.chdir(ROOT / "workflows")  # timed_array files as the workflows/ files give them
    try:
        wfmod.load_workflow(raw if "name" in raw else {**base, **raw})
    except WorkflowError as exc:
        pytest.fail(f"yaml block {index + 1} of docs/workflow.md does not load: {exc}\n{blocks[index]}")


def test_every_key_example_is_quickstart():
    """The "every key at a glance" block is workflows/quickstart.yaml plus a noise section."""
    raw = next(b for b in map(yaml.safe_load, _yaml_blocks()) if b.get("name") == "quickstart")
    assert "noise" in raw
    del raw["noise"]
    assert (
        wfmod.load_workflow(raw).fingerprint == wfmod.load_workflow(ROOT / "workflows" / "quickstart.yaml").fingerprint
    )


# --------------------------------------------------------------------------- #
# references to files a clone does not have
# --------------------------------------------------------------------------- #
# Written in pieces, so that this file does not match itself.
OUTSIDE = ("../" + "shared", "shared/" + "seeds", "DESIGN" + ".md")


def outside_references() -> list[tuple[str, str]]:
    """(path:line, text) of every line of a git-tracked file naming a file outside the repository."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    hits = []
    for name in filter(None, listing.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        for i, line in enumerate(path.read_bytes().splitlines(), 1):
            if any(p.encode() in line for p in OUTSIDE):
                hits.append((f"{name}:{i}", line.decode(errors="replace").strip()))
    return hits


def test_no_references_outside_the_repository():
    hits = outside_references()
    assert not hits, "\n".join(f"{where}: {text}" for where, text in hits)
