"""Values quoted for where their placeholder stands in a command (no shell needed: the sshd tests
prove it end to end in tests/test_vars_hosts.py)."""

from __future__ import annotations

import pytest

from console.model.quoting import QuotingError, contexts, cwd_text, render_cwd, render_raw, render_shell

VALUES = {
    "s": ("string", "a b"),
    "p": ("path", "~/my dir"),
    "n": ("integer", 42),
    "xs": ("list", ["x y", "z"]),
    "safe": ("path", "docker-compose.prod.yml"),
    "evil": ("string", "$(id) `id` \"q\" 'q' \\"),
}


def find(name):
    return VALUES[name]


@pytest.mark.parametrize(
    ("command", "rendered"),
    [
        ("docker-compose -f {{ safe }} down", "docker-compose -f docker-compose.prod.yml down"),
        ("echo {{ s }}", "echo 'a b'"),
        ("ls {{ p }}", "ls ~/'my dir'"),
        ('echo "{{ s }}"', 'echo "a b"'),
        ("echo '{{ s }}'", "echo 'a b'"),
        ("echo {{ n }}", "echo 42"),
        ("systemctl restart {{ xs }}", "systemctl restart 'x y' z"),
        ("echo {{ evil }}", "echo '$(id) `id` \"q\" '\"'\"'q'\"'\"' \\'"),
        ('echo "{{ evil }}"', 'echo "\\$(id) \\`id\\` \\"q\\" \'q\' \\\\"'),
        ("echo '{{ evil }}'", "echo '$(id) `id` \"q\" '\\''q'\\'' \\'"),
        ("echo \\'{{ s }}", "echo \\''a b'"),  # an escaped quote opens nothing
        ('echo "it\'s" {{ s }}', "echo \"it's\" 'a b'"),  # a ' inside "..." opens nothing either
    ],
)
def test_each_context_gets_its_own_quoting(command, rendered):
    assert render_shell(command, find) == rendered


def test_contexts_and_refusals():
    assert [(n, c) for n, c, _, _ in contexts("a {{ s }} \"{{ n }}\" '{{ xs }}'")] == [
        ("s", "unquoted"),
        ("n", "double"),
        ("xs", "single"),
    ]
    with pytest.raises(QuotingError):
        render_shell('echo "{{ xs }}"', find)
    with pytest.raises(QuotingError):
        render_cwd("{{ xs }}", find)


def test_cwd_is_a_double_quote_body_and_raw_values_keep_their_type():
    body = render_cwd('$HOSTDIR/{{ evil }}/"x"', find)
    assert body == '$HOSTDIR/\\$(id) \\`id\\` \\"q\\" \'q\' \\\\/\\"x\\"'
    assert cwd_text(body) == '$HOSTDIR/$(id) `id` "q" \'q\' \\/"x"'
    assert render_raw("{{ n }}", find) == 42 and render_raw(" {{ xs }} ", find) == ["x y", "z"]
    assert render_raw("port {{ n }}", find) == "port 42"
