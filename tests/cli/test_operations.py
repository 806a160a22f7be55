"""The commands of whoever runs the bot, run as they would run them: as programs, from another shell."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def voisinage(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_version(tmp_path: Path) -> None:
    assert voisinage("--version", cwd=tmp_path).stdout.startswith("voisinage ")


def test_the_first_admin_is_added_listed_shown_by_check_config_and_removed(tmp_path: Path) -> None:
    db = str(tmp_path / "v.sqlite3")
    assert "No admin yet" in voisinage("admin", "list", "--database", db, cwd=tmp_path).stdout
    assert "is now an admin" in voisinage("admin", "add", "telegram:123456789", "--database", db, cwd=tmp_path).stdout
    assert "already" in voisinage("admin", "add", "telegram:123456789", "--database", db, cwd=tmp_path).stdout
    voisinage("admin", "add", "matrix:@anne:example.org", "--database", db, cwd=tmp_path)
    listed = voisinage("admin", "list", "--database", db, cwd=tmp_path).stdout
    assert "telegram:123456789 (added" in listed and "matrix:@anne:example.org (added" in listed
    config = tmp_path / "v.toml"
    config.write_text(f'[deployment]\ndatabase = "{db}"\nadmins = ["console:alice"]\n', encoding="utf-8")
    checked = voisinage("check-config", "--config", str(config), cwd=tmp_path).stdout
    assert "console:alice (configuration)" in checked and "telegram:123456789 (added" in checked
    voisinage("admin", "remove", "matrix:@anne:example.org", "--database", db, cwd=tmp_path)
    assert "anne" not in voisinage("admin", "list", "--database", db, cwd=tmp_path).stdout


def test_an_account_without_its_platform_is_refused_with_an_example_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "v.sqlite3"
    for wrong in ("modo", "telegram:@bob", "matrix:anne", "whatsapp:123"):
        done = voisinage("admin", "add", wrong, "--database", str(db), cwd=tmp_path, check=False)
        assert done.returncode == 2 and "telegram:123456789" in done.stderr, (wrong, done.stderr)
    assert not db.exists()  # nothing was created for a refused command
    done = voisinage("admin", "remove", "telegram:5", "--database", str(db), cwd=tmp_path, check=False)
    assert done.returncode == 2 and "nothing changed" in done.stderr


def test_an_admin_added_from_the_command_line_has_the_admins_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "v.sqlite3")
    voisinage("admin", "add", "console:alice", "--database", db, cwd=tmp_path)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--console", "--database", db],
                          input="/modhelp\n", capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "/cercles" in done.stdout, done.stdout[-2000:]


def test_backup_while_the_bot_runs_restore_only_once_it_stopped(tmp_path: Path) -> None:
    """The round trip the issue asks for: a backup taken from another shell while the bot runs, a
    restore refused under the running bot, then accepted once it stopped, with the data back."""
    db = tmp_path / "v.sqlite3"
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--console", "--database", str(db)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=tmp_path)
    try:
        assert bot.stdin is not None
        bot.stdin.write("/start\n")
        bot.stdin.flush()
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:  # wait for a positive sign: the heartbeat and the person
            status = voisinage("status", "--database", str(db), cwd=tmp_path, check=False).stdout
            if "Running: yes" in status and _people(db) == 1:
                break
            time.sleep(0.3)
        assert "Running: yes" in status, status
        assert "Inbox: 0 waiting" in status and "Scheduler: last looked" in status
        voisinage("backup", str(tmp_path / "b.sqlite3"), "--database", str(db), cwd=tmp_path)
        refused = voisinage("restore", str(tmp_path / "b.sqlite3"), "--database", str(db), cwd=tmp_path, check=False)
        assert refused.returncode == 2 and "stop it first" in refused.stderr
        again = voisinage("backup", str(tmp_path / "b.sqlite3"), "--database", str(db), cwd=tmp_path, check=False)
        assert again.returncode == 2 and "already exists" in again.stderr
    finally:
        assert bot.stdin is not None
        bot.stdin.close()
        bot.wait(timeout=60)
    elsewhere = tmp_path / "restored.sqlite3"
    voisinage("restore", str(tmp_path / "b.sqlite3"), "--database", str(elsewhere), cwd=tmp_path)
    assert _people(elsewhere) == 1


@pytest.mark.parametrize("wrong", ["missing.sqlite3", "not-a-db.txt"])
def test_restoring_something_that_is_not_a_backup_is_refused(tmp_path: Path, wrong: str) -> None:
    (tmp_path / "not-a-db.txt").write_text("hello", encoding="utf-8")
    done = voisinage("restore", str(tmp_path / wrong), "--database", str(tmp_path / "v.sqlite3"),
                     cwd=tmp_path, check=False)
    assert done.returncode == 2 and done.stderr.strip()
    assert not (tmp_path / "v.sqlite3").exists()


def test_status_without_a_database_says_so(tmp_path: Path) -> None:
    done = voisinage("status", "--database", str(tmp_path / "none.sqlite3"), cwd=tmp_path, check=False)
    assert done.returncode == 2 and "no database" in done.stderr


def _people(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM people").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_a_town_hall_prints_a_poster_from_the_command_line(tmp_path: Path) -> None:
    """`voisinage poster --place … --out …` writes the PDF (its link from `[telegram] username`), records
    the poster (the same one when asked again), and refuses a mistake before touching the database."""
    from pypdf import PdfReader

    db = tmp_path / "v.sqlite3"
    bare = voisinage("poster", "--database", str(db), "--place", "belleville", "--out", str(tmp_path / "a.pdf"),
                     cwd=tmp_path, check=False)
    assert bare.returncode == 2 and "[telegram] username" in bare.stderr and not db.exists()
    config = tmp_path / "v.toml"
    config.write_text(f'[deployment]\ndatabase = "{db}"\n[telegram]\nusername = "VoisinsMairie_bot"\n',
                      encoding="utf-8")
    wrong = voisinage("poster", "--config", str(config), "--place", "atlantide", "--out", str(tmp_path / "a.pdf"),
                      cwd=tmp_path, check=False)
    assert wrong.returncode == 2 and "unknown neighbourhood 'atlantide'" in wrong.stderr and not db.exists()
    for name in ("a.pdf", "b.pdf"):
        done = voisinage("poster", "--config", str(config), "--place", "belleville", "--organizer", "Mairie du 20e",
                         "--out", str(tmp_path / name), cwd=tmp_path)
        assert f"Wrote {tmp_path / name}" in done.stdout and "Belleville" in done.stdout
    with sqlite3.connect(db) as conn:
        ((token, label, joins),) = conn.execute("SELECT token, label, joins FROM posters").fetchall()
    assert (label, joins) == ("Mairie du 20e", 0)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(tmp_path / "a.pdf").pages)
    assert "avec Mairie du 20e" in text and f"/start p-nb__belleville--{token}" in text
    again = voisinage("poster", "--config", str(config), "--place", "belleville", "--out", str(tmp_path / "a.pdf"),
                      cwd=tmp_path, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_backup_of_a_postgresql_deployment_points_to_pg_dump(tmp_path, capsys) -> None:
    """`voisinage backup` copies SQLite files; on PostgreSQL it says which tool does it, and writes nothing."""
    from bot.cli import main

    out = tmp_path / "copy.sqlite3"
    assert main(["backup", "--database", "postgresql://voisinage@db.example.org/voisinage", str(out)]) == 2
    assert "pg_dump" in capsys.readouterr().err and not out.exists()
