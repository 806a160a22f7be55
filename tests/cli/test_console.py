"""The console, run the way a newcomer runs it: `voisinage run` with a script on standard input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ALICE = ["/start", "1", "1", "bellevile", "11", "8", "8", "1"]
BOB = ["/as bob", "bonjour", "2", "1", "75020", "1", "jardin, belote", "11", "8", "8", "1"]


def run_console(tmp_path: Path, lines: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--console", "--database", str(tmp_path / "v.sqlite3")],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_two_neighbours_meet_and_talk(tmp_path: Path) -> None:
    out = run_console(tmp_path, [*ALICE, *BOB, "/room", "Salut tout le monde !", "/as alice", "/room", "Bonjour Bob"])
    assert "[bot → alice] Bienvenue ! Vous ouvrez le cercle Voisins · Belleville · 1" in out
    assert "[bot → bob] Welcome to the circle Voisins · Belleville · 1! You'll meet Alice there." in out
    assert "👋 Bob rejoint le cercle ! Aime : Jardinage, Jeux de société." in out
    assert "bob: Salut tout le monde !  (vu par alice)" in out
    assert "alice: Bonjour Bob  (vu par bob)" in out


def test_a_restart_keeps_people_rooms_and_unfinished_onboarding(tmp_path: Path) -> None:
    run_console(tmp_path, [*ALICE, "/as carol", "/start", "2", "1"])
    out = run_console(tmp_path, ["/as carol", "charonne", "/as alice", "/room", "Toujours là"])
    assert "[bot → carol] 📍 Charonne" in out
    assert "alice: Toujours là" in out


def test_mydata_writes_an_export_and_mistakes_get_help(tmp_path: Path) -> None:
    out = run_console(tmp_path, [*ALICE, "/mesdonees", "/mesdonnees", "/oublier", "1", "/mesdonnees"])
    assert "Vouliez-vous dire /mesdonnees ?" in out
    assert (tmp_path / "exports" / "voisinage-1.json").exists()
    assert out.rstrip().endswith("Je ne garde rien sur vous. /start pour faire connaissance.")


def test_a_file_can_be_sent_and_only_organizers_import_calendars(tmp_path: Path) -> None:
    (tmp_path / "agenda.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    out = run_console(tmp_path, [*ALICE, "/file agenda.ics", "/file nulle-part.ics"])
    assert "/organisateur" in out.split("alice@bot> /file agenda.ics")[1]
    assert "(/file CHEMIN, par exemple /file agenda.ics)" in out
