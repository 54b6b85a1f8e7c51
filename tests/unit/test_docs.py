"""docs/ is generated from the schemas and examples; it must never be stale."""

from provider.docgen import main


def test_docs_are_fresh() -> None:
    assert main(["--check"]) == 0, "run `make docs` and commit docs/"
