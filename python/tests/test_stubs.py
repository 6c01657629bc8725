"""stackless.pyi describes the module: the same public names, classes and members."""
import ast
import pathlib

import stackless

STUB = pathlib.Path(__file__).resolve().parents[1] / "stackless.pyi"


def stub_tree():
    return ast.parse(STUB.read_text())


def test_stub_names_match_the_module():
    tree = stub_tree()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    public = {n for n in dir(stackless) if not n.startswith("_")}
    public |= {"current", "main", "runcount", "threads", "uncollectables"}
    assert names - {"_T", "_TaskletT"} == public


def test_stub_classes_list_the_members():
    tree = stub_tree()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ("tasklet", "channel", "bomb"):
            declared = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            declared |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
            cls = getattr(stackless, node.name)
            actual = {n for n in dir(cls) if not n.startswith("_")}
            assert actual <= declared, (node.name, actual - declared)
