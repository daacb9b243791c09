import tomllib

from tests.conftest import repo_root


def test_streamlit_config_hardening():
    config = tomllib.loads((repo_root() / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] in ("none", False)


def test_no_page_renders_raw_html():
    offenders = [str(p) for p in (repo_root() / "dashboard").rglob("*.py") if "unsafe_allow_html" in p.read_text()]
    assert offenders == []
