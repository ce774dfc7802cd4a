"""``warroom init --runbook``: a commented starter config written from any runbook's declarations,
which loads back and plans; its values and the declarations agree."""

from __future__ import annotations

import tomllib

from conftest import declare, ssh_step, write_runbook
from fresh_machine_support import warroom

from actions.registry import KINDS
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.render import StepRenderer
from console.model.runbook import load_runbook
from console.model.starter import EXAMPLES

EVERY_TYPE = (
    declare(
        site__root="path",
        site__name="string",
        site__port="integer",
        site__health="url",
        site__units="list",
        site__token="secret",
        cache__dir=("path", "~/cache"),
        cache__size=("integer", 64),
        cache__label=("string", "hot"),
        cache__url=("url", "https://cdn.example.com/"),
        cache__hosts=("list", ["a", "b"]),
        cache__key=("secret", "file:~/.config/cache.key"),
    )
    + '\n[vars.described]\ntype = "string"\ndefault = "x"\ndescription = "What it is for"\n'
)

STEPS = ssh_step(
    "use",
    "echo {{ site.name }} {{ site.port }} {{ site.health }} {{ site.units }} {{ cache.dir }} {{ cache.size }}",
    "echo {{ cache.label }} {{ cache.url }} {{ cache.hosts }} {{ described }}",
    extra='cwd = "{{ site.root }}"\nsecret_env = { TOKEN = "site.token", KEY = "cache.key" }\n',
)


def test_init_round_trips_a_runbook_with_every_type(tmp_path):
    runbook_path = write_runbook(tmp_path / "team.toml", STEPS, variables=EVERY_TYPE)
    out = tmp_path / "config.toml"
    result = warroom(tmp_path, "init", "--runbook", str(runbook_path), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert '# What it is for (string)\n# described = "x"\n' in text  # a default: shown, commented out
    assert '# (path), required\nsite.root = "/CHANGE-ME"\n' in text
    assert "site.port = 1  # CHANGE-ME\n" in text
    assert 'site.token = "env:TESTBOOK_SITE_TOKEN"' in text and 'cache.hosts = ["a", "b"]' in text

    data = tomllib.loads(text)
    assert data["environment"]["runbook"] == str(runbook_path.resolve())
    runbook = load_runbook(runbook_path, KINDS)
    config = load_config(out)
    values = StepRenderer(runbook, config).base.values
    for name, var in runbook.variables.items():
        expected = (
            var.default
            if var.has_default
            else ("env:TESTBOOK_SITE_TOKEN" if var.type == "secret" else EXAMPLES[var.type])
        )
        assert values[name].value == expected, name
    plan = build_plan(runbook, config)
    step = plan.steps["use"]
    assert step.cwd == "/CHANGE-ME"
    assert step.commands == (
        "echo CHANGE-ME 1 http://127.0.0.1/CHANGE-ME CHANGE-ME ~/cache 64",
        "echo hot https://cdn.example.com/ a b x",
    )
    assert step.secrets == {"site.token": "env:TESTBOOK_SITE_TOKEN", "cache.key": "file:~/.config/cache.key"}
    planned = warroom(tmp_path, "plan", "-c", str(out))
    assert planned.returncode == 0, planned.stderr
    assert "TOKEN=<secret site.token>" in planned.stdout
