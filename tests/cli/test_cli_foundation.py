import json

import psycopg

from core.db import libpq_url
from core.embedded_pg import bin_dir
from tests.conftest import repo_root

AWS_CONFIG = json.dumps({"region": "eu-west-1", "log_groups": ["/app/api"]})
PLANTED = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDSECRET"


def _add_aws(cli, tmp_path, project="A", name="api-logs"):
    secret_file = tmp_path / "secret.json"
    secret_file.write_text(json.dumps({"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": PLANTED}))
    return cli("connections", "add", "--project", project, "--provider", "aws", "--name", name,
               "--config", AWS_CONFIG, "--secret-file", str(secret_file), "--json")


def test_projects_add_and_list_json(cli):
    assert cli("projects", "add", "A").code == 0
    listed = cli("projects", "list", "--json")
    assert listed.code == 0
    assert [p["name"] for p in listed.json()] == ["A"]


def test_connection_with_secret_is_shown_masked(cli, tmp_path):
    cli("projects", "add", "A")
    added = _add_aws(cli, tmp_path)
    assert added.code == 0, added.err
    conn_id = added.json()["id"]
    shown = cli("connections", "show", str(conn_id), "--json")
    assert shown.code == 0
    data = shown.json()
    assert data["secret"] == {"access_key_id": "********", "secret_access_key": "********"}
    assert data["config"]["region"] == "eu-west-1"
    assert PLANTED not in shown.out and "AKIAIOSFODNN7EXAMPLE" not in shown.out
    listed = cli("connections", "list", "--json").json()
    assert [c["id"] for c in listed] == [conn_id]


def test_keys_rotate_re_encrypts_every_secret(cli, tmp_path, monkeypatch, app_env):
    cli("projects", "add", "A")
    _add_aws(cli, tmp_path, name="one")
    _add_aws(cli, tmp_path, name="two")
    new_key = cli("keys", "generate").out.strip()
    old_key = app_env["CREDENTIAL_ENCRYPTION_KEYS"]
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEYS", f"{new_key},{old_key}")
    rotated = cli("keys", "rotate", "--json")
    assert rotated.code == 0 and rotated.json() == {"rotated": 2}
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEYS", new_key)  # the old key is gone now
    shown = cli("connections", "show", "1", "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["secret"]["secret_access_key"] == "********"


def test_pg_dump_does_not_contain_a_planted_secret(cli, tmp_path, db_url):
    import subprocess

    cli("projects", "add", "A")
    assert _add_aws(cli, tmp_path).code == 0
    dump = subprocess.run([str(bin_dir(repo_root()) / "pg_dump"), "--data-only", libpq_url(db_url)],
                          capture_output=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert b"connections" in dump.stdout  # the dump really holds the table
    assert PLANTED.encode() not in dump.stdout
    assert b"AKIAIOSFODNN7EXAMPLE" not in dump.stdout
    with psycopg.connect(db_url) as conn:
        token = conn.execute("SELECT secret FROM connections").fetchone()[0]
    assert token and PLANTED.encode() not in bytes(token)


def test_users_add_with_project_membership(cli):
    cli("projects", "add", "A")
    added = cli("users", "add", "vera", "--role", "viewer", "--project", "A", "--password-stdin",
                stdin="correct horse battery\n")
    assert added.code == 0, added.err
    users = cli("users", "list", "--json").json()
    assert users == [{"id": users[0]["id"], "username": "vera", "role": "viewer", "disabled": False,
                      "projects": ["A"], "last_login_at": None}]


def test_user_mistakes_are_one_line_with_exit_2(cli, tmp_path):
    cli("projects", "add", "A")
    bad_json = cli("connections", "add", "--project", "A", "--provider", "aws", "--name", "x", "--config", "{oops")
    assert bad_json.code == 2
    assert bad_json.err.startswith("loglytics: error: --config: not valid JSON") and bad_json.err.count("\n") == 1
    missing = cli("connections", "add", "--project", "A", "--provider", "aws", "--name", "x", "--config", "{}")
    assert missing.code == 2 and "config.region" in missing.err
    unknown_project = cli("connections", "add", "--project", "Z", "--provider", "demo", "--name", "x")
    assert unknown_project.code == 2 and "no project named 'Z'" in unknown_project.err
    bad_secret = cli("connections", "add", "--project", "A", "--provider", "aws", "--name", "x",
                     "--config", AWS_CONFIG, "--secret-stdin", stdin=json.dumps({"password": PLANTED}))
    assert bad_secret.code == 2 and PLANTED not in bad_secret.err
    short_password = cli("users", "add", "u", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert short_password.code == 2 and "at least 8" in short_password.err
    assert cli("connections", "show", "999").code == 2


def test_real_process_bad_settings_and_bad_usage(cli_process):
    bad_key = cli_process("projects", "list", env={"CREDENTIAL_ENCRYPTION_KEYS": "nope"})
    # listing projects needs no key: it works; adding a secret needs one and fails clearly
    assert bad_key.code == 0
    rotate = cli_process("keys", "rotate", env={"CREDENTIAL_ENCRYPTION_KEYS": "nope"})
    assert rotate.code == 1
    assert rotate.err.strip() == (
        "loglytics: error: CREDENTIAL_ENCRYPTION_KEYS: key #1 is not a valid Fernet key; "
        "generate one with: loglytics keys generate")
    bad_url = cli_process("projects", "list", env={"DATABASE_URL": "mysql://x"})
    assert bad_url.code == 1 and bad_url.err.startswith("loglytics: error: DATABASE_URL:")
    assert "Traceback" not in bad_url.err
    usage = cli_process("connections", "frobnicate")
    assert usage.code == 2 and "Traceback" not in usage.err
    down = cli_process("projects", "list", env={"DATABASE_URL": "postgresql://u@127.0.0.1:1/db"})
    assert down.code == 1 and down.err.startswith("loglytics: error: database unavailable")
    assert down.err.count("\n") == 1


def test_db_status_and_url(cli, db_url):
    status = cli("db", "status", "--json").json()
    assert status["up_to_date"] is True
    assert cli("db", "url").out.strip() == libpq_url(db_url)
