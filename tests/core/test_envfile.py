import pytest

from audiovoice_ops.core.envfile import parse_bool, parse_env_text
from audiovoice_ops.core.errors import ConfigError, EnvFileError


def parse(text, environ=None):
    return parse_env_text(text, source=".env", environ=environ or {})


def test_compose_rules():
    text = """# comment
export A=1
B='literal $A'
C="expanded ${A}"
D=plain # trailing comment
E=
SHELL_ONLY
MULTI="line1
line2"
"""
    values = parse(text, {"SHELL_ONLY": "from-shell"})
    assert values == {
        "A": "1",
        "B": "literal $A",
        "C": "expanded 1",
        "D": "plain",
        "E": "",
        "SHELL_ONLY": "from-shell",
        "MULTI": "line1\nline2",
    }


def test_bare_key_absent_from_shell_is_skipped():
    assert parse("ONLY_KEY\n") == {}


def test_malformed_line_number():
    with pytest.raises(EnvFileError, match=r"\.env:3: malformed line 'what is this'"):
        parse("A=1\n\nwhat is this\n")


@pytest.mark.parametrize(
    "spelling, value",
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
        (" false ", False),
    ],
)
def test_bool_spellings(spelling, value):
    assert parse_bool("LOW_VRAM", spelling) is value


def test_bool_rejects_other_values_listing_accepted():
    with pytest.raises(ConfigError, match="LOW_VRAM='enabled'.*true/1/yes/on/false/0/no/off"):
        parse_bool("LOW_VRAM", "enabled")
