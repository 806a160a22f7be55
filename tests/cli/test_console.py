"""The console, run the way a newcomer runs it: `voisinage run` with a script on standard input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ALICE = ["/start", "1", "bellevile", "11", "1"]
BOB = ["/as bob", "bonjour", "3", "1", "75020", "1", "jardin, belote", "11", "1"]  # 3: English


def run_console(tmp_path: Path, lines: list[str], config: str = "[circles]\nopen_with = 1\n") -> str:
    """``config``: by default a circle opens with its first neighbour, so two neighbours can meet."""
    (tmp_path / "v.toml").write_text(config, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--console", "--database", str(tmp_path / "v.sqlite3"),
         "--config", str(tmp_path / "v.toml")],
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


def test_oui_at_a_question_with_two_yes_choices_asks_which(tmp_path: Path) -> None:
    """ "oui" at the check-in question fits two choices: asked which, never "not understood"."""
    out = run_console(tmp_path, ["bonjour", "oui", "belleville", "2, 5", "fini", "oui", "2"])
    asked = out.split("alice@bot> oui\n")[-1].split("alice@bot>")[0]
    assert asked.splitlines() == ["[bot → alice] Oui — lequel de ces choix ?",
                                  "    1. Oui, prévenir l'animateur du cercle",
                                  "    2. Oui, prévenir un voisin que je choisis"]
    assert "pas bien compris" not in out
    assert "[bot → alice] Quel voisin prévenir ?" in out.split("alice@bot> 2\n")[-1]


def test_a_restart_keeps_people_rooms_and_unfinished_onboarding(tmp_path: Path) -> None:
    run_console(tmp_path, [*ALICE, "/as carol", "/start", "3", "1"])
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


def test_the_clock_shows_a_check_in_from_silence_to_the_contacts_alert(tmp_path: Path) -> None:
    """The README's walkthrough (issue 19, "Trying it"): Alice names Bob as her contact, goes quiet;
    /clock moves time (typed by Bob: Alice typing would be a sign of life) and the whole ladder shows."""
    bob = ["/as bob", "/start", "1", "belleville", "11", "1"]
    alice = ["/as alice", "/start", "1", "belleville", "11", "2", "Bob"]
    ladder = ["/as bob", "1", "/clock +11d 10:00", "1", "/horloge +1j", "/clock +1d"]
    out = run_console(tmp_path, [*bob, *alice, *ladder], config="")
    assert "[bot → alice] Bob a accepté d'être prévenu·e" in out
    asked = out.index("[bot → alice] Bonjour Alice ! Cela fait quelques jours")
    reminded = out.index("[bot → alice] Je me permets de redemander, Alice")
    alert = out.index("[bot → bob] Alice n'a pas répondu quand je lui ai demandé si tout allait bien")
    assert asked < reminded < alert
    assert out.count("Alice n'a pas répondu") == 1
    moved_to = re.findall(r"nous sommes le (\w+ \d+ \w+ \d{4}) à 10:00", out)[-1]
    again = run_console(tmp_path, ["/as bob", "/clock"], config="")  # a restart does not go back in time
    assert f"Nous sommes le {moved_to} à 10:0" in again


def test_the_clock_is_refused_where_time_is_real(tmp_path: Path) -> None:
    """The console declares the capability; /clock typed anywhere else is refused (tests/core too)."""
    out = run_console(tmp_path, ["/as bob", "/clock soon"], config="")
    assert "Pour avancer le temps : /horloge +11j" in out


def test_a_shopkeeper_in_the_console_prints_a_poster_that_opens_the_bot_in_her_neighbourhood(tmp_path: Path) -> None:
    """The issue's "done when", as a newcomer would do it: a moderator approves the bakery, the baker types
    /affiche and finds the PDF in exports/, its QR code the Telegram link with Belleville and the poster."""
    import re
    import sqlite3

    from pypdf import PdfReader

    from tests.core.test_posters import expected_cells, qr_cells

    (tmp_path / "v.toml").write_text('[deployment]\nadmins = ["console:mod"]\n'
                                     '[telegram]\nusername = "VoisinageBelleville_bot"\n', encoding="utf-8")
    script = ["/as mod", "/modhelp", "/as alice", *ALICE, "/organisateur", "Boulangerie du Marché", "1", "1",
              "12 rue de Belleville", "/as mod", "2", "/as alice", "/affiche"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--console", "--config", "v.toml", "--database", "v.sqlite3"],
        input="\n".join(script) + "\n", capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "📎 exports/affiche-belleville.pdf" in done.stdout
    with sqlite3.connect(tmp_path / "v.sqlite3") as conn:
        (token,) = conn.execute("SELECT token FROM posters").fetchone()
    link = f"https://t.me/VoisinageBelleville_bot?start=p-nb__belleville--{token}"
    poster = PdfReader(tmp_path / "exports" / "affiche-belleville.pdf").pages[0]
    assert qr_cells(poster.get_contents().get_data()) == expected_cells(link)
    text = re.sub(r"\s+", " ", poster.extract_text())
    assert "Rejoignez les voisins de Belleville" in text and "avec Boulangerie du Marché" in text
