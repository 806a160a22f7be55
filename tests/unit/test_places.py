"""Place matching against the real content files: the spellings residents type must land right."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.core.places import Place, PlaceIndex, PlaceMatch, load_places, normalize

CONTENT = Path(__file__).parents[2] / "content"
PARIS = CONTENT / "places" / "paris-20e.toml"
HONFLEUR = CONTENT / "places" / "honfleur.toml"
NATIONAL = CONTENT / "data" / "communes-fr.tsv.gz"
PARIS_20E_IDS = {
    "nb:belleville", "nb:menilmontant", "nb:pere-lachaise", "nb:charonne", "nb:saint-fargeau",
    "nb:gambetta", "nb:jourdain", "nb:plaine-reunion", "nb:telegraphe",
}


@pytest.fixture(scope="module")
def paris() -> PlaceIndex:
    """A Paris 20e deployment with the national fallback, as the bot runs it."""
    return load_places([PARIS], NATIONAL)


@pytest.fixture(scope="module")
def honfleur() -> PlaceIndex:
    """A deployment with nothing in Paris, to see the national tier answer for it."""
    return load_places([HONFLEUR], NATIONAL)


@pytest.fixture(scope="module")
def national_only() -> PlaceIndex:
    return load_places([], NATIONAL)


def ids(result: PlaceMatch) -> list[str]:
    return [place.id for place in result.places]


def found_id(index: PlaceIndex, text: str) -> str:
    result = index.match(text)
    assert result.outcome == "found", (text, result)
    assert len(result.places) == 1
    return result.places[0].id


# --- normalize ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ménilmontant", "menilmontant"),
        ("  PÈRE-LACHAISE ", "pere lachaise"),
        ("Père–Lachaise!!", "pere lachaise"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("St-Fargeau", "saint fargeau"),
        ("Ste Catherine", "sainte catherine"),
        ("Paris 20e", "paris 20"),
        ("Paris 20ème", "paris 20"),
        ("paris 20eme arrondissement", "paris 20"),
        ("Paris XXe", "paris 20"),
        ("Paris 20 ème arr.", "paris 20"),
        ("Marseille 1er Arrondissement", "marseille 1"),
        ("Lyon IIIe", "lyon 3"),
        ("Saint-Gilles-Croix-de-Vie", "saint gilles croix de vie"),
        ("SAINT GILLES CROIX DE VIE", "saint gilles croix de vie"),
        ("Œuilly", "oeuilly"),
        ("75020", "75020"),
        ("🏠 Belleville 🏠", "belleville"),
        ("🏠🏠", ""),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_leaves_postal_codes_and_plain_words_alone() -> None:
    assert normalize("01400 Vie") == "01400 vie"
    assert normalize("street") == "street"  # only the whole word "st" is "saint"


# --- the spellings from the product spec --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("belleville", "nb:belleville"),
        ("Belleville", "nb:belleville"),
        ("BELLEVILLE", "nb:belleville"),
        ("bellevile", "nb:belleville"),
        ("ménilmontant", "nb:menilmontant"),
        ("Menilmontant", "nb:menilmontant"),
        ("menilmontan", "nb:menilmontant"),
        ("Ménilmuche", "nb:menilmontant"),
        ("menilmuche", "nb:menilmontant"),
        ("pere lachaise", "nb:pere-lachaise"),
        ("Père-Lachaise", "nb:pere-lachaise"),
        ("pere lachaize", "nb:pere-lachaise"),
        ("st fargeau", "nb:saint-fargeau"),
        ("charone", "nb:charonne"),
        ("gambeta", "nb:gambetta"),
        ("Place de la Réunion", "nb:plaine-reunion"),
        ("j'habite à Belleville", "nb:belleville"),
        ("rue de charonne", "nb:charonne"),
        ("75020 belleville", "nb:belleville"),
    ],
)
def test_deployment_spellings_are_found(paris: PlaceIndex, text: str, expected: str) -> None:
    assert found_id(paris, text) == expected


def test_found_place_has_a_button_label(paris: PlaceIndex) -> None:
    assert paris.match("bellevile").places[0].label == "Belleville (Paris 20e)"


def test_postal_code_offers_the_quarters_with_that_code(paris: PlaceIndex) -> None:
    result = paris.match("75020")
    assert result.outcome == "choose"
    assert set(ids(result)) == PARIS_20E_IDS  # all of them, more than the default limit (issue 19)
    everything = paris.match("75020", limit=20)
    assert set(ids(everything)) == PARIS_20E_IDS
    assert all("75020" in place.postal_codes for place in everything.places)


def test_postal_code_shared_by_two_quarters(paris: PlaceIndex) -> None:
    result = paris.match("75019")
    assert result.outcome == "choose"
    assert set(ids(result)) == {"nb:belleville", "nb:jourdain"}


@pytest.mark.parametrize("text", ["paris 20e", "Paris 20ème", "Paris 20", "paris XXe", "Paris 20e arrondissement"])
def test_commune_offers_its_quarters(paris: PlaceIndex, text: str) -> None:
    result = paris.match(text, limit=20)
    assert result.outcome == "choose"
    assert set(ids(result)) == PARIS_20E_IDS


def test_commune_with_a_single_quarter_is_found() -> None:
    index = PlaceIndex([
        Place("nb:a", "Les Hauts", "Die", ("26150",)),
        Place("nb:b", "Centre", "Crest", ("26400",)),
    ])
    assert found_id(index, "die") == "nb:a"
    assert found_id(index, "26400") == "nb:b"


def test_choose_respects_limit_and_never_offers_fewer_than_two(paris: PlaceIndex) -> None:
    assert len(paris.match("st denis", limit=3).places) == 3
    assert len(paris.match("st denis", limit=1).places) == 2


# --- garbage -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "xqzzw",
        "",
        "   ",
        "x" * 10_000,
        "belleville " * 1_000,
        "🏠🏠🏠",
        "🙂",
        "'; DROP TABLE members; --",
        "Robert'); DELETE FROM places;--",
        "<script>alert(1)</script>",
        "\x00\x01\n\t",
        "99999",
        "ab",
        "%s %d {0} {name}",
        "Привет",
    ],
)
def test_garbage_is_none_without_exception(paris: PlaceIndex, text: str) -> None:
    assert paris.match(text) == PlaceMatch("none", ())


def test_examples_suggest_deployment_names_after_none(paris: PlaceIndex) -> None:
    assert paris.examples() == ["Belleville", "Ménilmontant", "Père-Lachaise"]
    assert len(paris.examples(5)) == 5
    assert paris.examples(0) == []


# --- two tiers: the deployment first, the communes only when it fails -----------------------------------


def test_deployment_beats_the_homonym_commune(paris: PlaceIndex, national_only: PlaceIndex) -> None:
    assert found_id(paris, "belleville") == "nb:belleville"
    without_deployment = national_only.match("belleville")
    assert without_deployment.outcome == "choose"
    assert "insee:54060" in ids(without_deployment)  # Belleville, Meurthe-et-Moselle
    assert all(place.kind == "commune" and "Belleville" in place.name for place in without_deployment.places)


def test_commune_answers_when_no_neighbourhood_matches(paris: PlaceIndex) -> None:
    assert found_id(paris, "Die") == "insee:26113"
    assert paris.get("insee:26113").label == "Die (26150)"
    assert found_id(paris, "bagnolet") == "insee:93006"


def test_commune_typo_answers_when_no_neighbourhood_matches(paris: PlaceIndex) -> None:
    assert found_id(paris, "Honfleurr") == "insee:14333"


def test_arrondissement_is_the_commune_when_the_deployment_has_nothing_there(honfleur: PlaceIndex) -> None:
    assert found_id(honfleur, "paris 20e") == "insee:75120"
    assert found_id(honfleur, "Paris XXe") == "insee:75120"
    # "75020" is the 20e, not also the whole of Paris (whose codes belong to its arrondissements).
    assert found_id(honfleur, "75020") == "insee:75120"
    assert found_id(honfleur, "lyon 3e") == "insee:69383"


def test_exact_commune_and_close_neighbourhood_are_both_offered(paris: PlaceIndex) -> None:
    result = paris.match("Belleville-sur-Meuse")
    assert result.outcome == "choose"
    assert ids(result)[:2] == ["insee:55043", "nb:belleville"]
    assert result.places[0].label == "Belleville-sur-Meuse (55430)"


def test_name_among_words_competes_with_communes(paris: PlaceIndex) -> None:
    result = paris.match("bellevile sur meuse")
    assert result.outcome == "choose"
    assert {"insee:55043", "nb:belleville"} <= set(ids(result))


def test_neighbourhood_in_another_deployment_file(honfleur: PlaceIndex) -> None:
    assert found_id(honfleur, "vieux basin") == "nb:honfleur-vieux-bassin"
    assert found_id(honfleur, "ste catherine") == "nb:honfleur-sainte-catherine"
    result = honfleur.match("Honfleur", limit=10)
    assert result.outcome == "choose"
    assert all(place.commune == "Honfleur" and place.kind == "neighbourhood" for place in result.places)


# --- homonyms ------------------------------------------------------------------------------------------


def test_homonym_communes_are_offered_with_postal_codes(national_only: PlaceIndex) -> None:
    result = national_only.match("Saint-Martin", limit=10)
    assert result.outcome == "choose"
    assert len(result.places) >= 4
    assert all(place.name == "Saint-Martin" for place in result.places)
    labels = [place.label for place in result.places]
    assert len(set(labels)) == len(labels)
    assert all(label.startswith("Saint-Martin (") and label[-6:-1].isdigit() for label in labels)
    populations = [place.population or 0 for place in result.places]
    assert populations == sorted(populations, reverse=True)


def test_homonym_typo_is_offered_too(national_only: PlaceIndex) -> None:
    result = national_only.match("st martinn")
    assert result.outcome == "choose"
    assert result.places[0].name == "Saint-Martin"


def test_postal_code_of_several_communes(national_only: PlaceIndex) -> None:
    result = national_only.match("26150", limit=50)
    assert result.outcome == "choose"
    assert "insee:26113" in ids(result)
    assert all("26150" in place.postal_codes for place in result.places)
    assert found_id(national_only, "26150 die") == "insee:26113"


def test_former_commune_is_labelled_with_its_commune_nouvelle(national_only: PlaceIndex) -> None:
    place = national_only.get("insee:01015:deleguee")
    assert place is not None
    assert place.label == "Arbignieu (Arboys en Bugey)"
    assert found_id(national_only, "arbignieu") == "insee:01015:deleguee"
    assert national_only.get("insee:01015").name == "Arboys en Bugey"


def test_article_may_be_left_out(national_only: PlaceIndex) -> None:
    assert found_id(national_only, "Mans") == "insee:72181"


# --- nearest -------------------------------------------------------------------------------------------


def test_nearest_neighbourhood_by_coordinates(paris: PlaceIndex, honfleur: PlaceIndex) -> None:
    assert paris.nearest(48.8718, 2.3855).id == "nb:belleville"  # rue de Belleville
    assert paris.nearest(48.8610, 2.3940).id == "nb:pere-lachaise"  # in the cemetery
    assert paris.nearest(48.8752, 2.3896).id == "nb:jourdain"
    assert honfleur.nearest(49.4193, 0.2333).id == "nb:honfleur-vieux-bassin"


def test_nearest_is_none_far_from_the_deployment(paris: PlaceIndex) -> None:
    assert paris.nearest(45.7640, 4.8357) is None  # Lyon
    assert paris.nearest(48.8566, 2.3000) is None  # Paris 7e, about 6 km west of Gambetta


@pytest.mark.parametrize(("lat", "lon"), [(math.nan, 2.38), (48.87, math.inf), (91.0, 2.0), (48.0, 181.0)])
def test_nearest_refuses_impossible_coordinates(paris: PlaceIndex, lat: float, lon: float) -> None:
    assert paris.nearest(lat, lon) is None


def test_nearest_falls_back_to_a_commune_with_a_centroid() -> None:
    index = PlaceIndex([
        Place("nb:centre", "Centre", "Die", ("26150",), centroid=(44.7536, 5.3700)),
        Place("nb:romeyer", "Romeyer", "Romeyer", ("26150",), centroid=(44.7842, 5.4211), kind="commune"),
    ])
    assert index.nearest(44.7540, 5.3705).id == "nb:centre"
    assert index.nearest(44.7850, 5.4220).id == "nb:romeyer"  # ~5 km from the centre of Die
    assert index.nearest(45.5, 6.0) is None


# --- index and loader ---------------------------------------------------------------------------------


def test_get_len_and_iteration(paris: PlaceIndex) -> None:
    assert len(paris) == len(list(paris)) > 37_000
    assert paris.get("nb:charonne").commune == "Paris 20e"
    assert paris.get("nb:nowhere") is None
    assert all(place.centroid is not None for place in paris if place.id.startswith("nb:"))


def test_content_files_are_well_formed() -> None:
    index = load_places([PARIS, HONFLEUR])
    places = list(index)
    assert len(places) == 14
    for place in places:
        assert place.id.startswith("nb:") and place.kind == "neighbourhood"
        assert place.postal_codes and all(len(code) == 5 for code in place.postal_codes)
        assert place.centroid is not None
        lat, lon = place.centroid
        assert 41 < lat < 51.5 and -5.5 < lon < 10  # metropolitan France
        assert index.match(place.name).places[0] == place
        for alias in place.aliases:
            assert index.match(alias).places[0] == place, alias


def test_loader_reports_mistakes_with_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[place]]\nid = "nb:x"\nname = "X"\npostal_codes = ["75020"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.toml.*missing commune"):
        load_places([bad])
    bad.write_text('[[place]]\nid = "nb:x"\nname = "X"\ncommune = "Y"\npostal_codes = ["7502"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="five-digit"):
        load_places([bad])
    bad.write_text('[[place]]\nid = "insee:1"\nname = "X"\ncommune = "Y"\npostal_codes = []\n', encoding="utf-8")
    with pytest.raises(ValueError, match="reserved"):
        load_places([bad])


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        load_places([PARIS, PARIS])


# --- careful matching (issue 19) --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["oui", "non", "bonjour", "merci", "d'accord", "ok", "1", "2", "20", "yes",
                                  "hello", "thanks", "1 2"])
def test_ordinary_words_and_bare_numbers_are_never_places(paris: PlaceIndex, text: str) -> None:
    """ "oui" offered Bouin, Louin and Nouic; a stray "1" placed residents in Vendée."""
    assert paris.match(text).outcome == "none"


def test_a_fuzzy_match_too_far_for_its_length_is_asked_not_assumed(paris: PlaceIndex) -> None:
    """ "Alice" → "Salice (20121), c'est noté" without asking."""
    result = paris.match("Alice")
    assert result.outcome == "confirm" and ids(result) == ["insee:2A266"]
    assert result.places[0].spoken == "Salice (Corse-du-Sud)"  # how the question names it
    assert paris.match("Salice").outcome == "found"


@pytest.mark.parametrize("typed,name", [("tolouse", "Toulouse"), ("bordaeux", "Bordeaux"),
                                        ("belelville", "Belleville"), ("menilmotnant", "Ménilmontant")])
def test_one_typo_or_one_swapped_pair_in_a_long_name_is_found(paris: PlaceIndex, typed: str, name: str) -> None:
    result = paris.match(typed)
    assert result.outcome == "found" and result.places[0].name == name


@pytest.mark.parametrize("typed,code", [("7e arrondissement de Paris", "75007"), ("6e arrondissement de Marseille",
                                                                                   "13006"),
                                        ("3ème arrondissement de Lyon", "69003")])
def test_nth_arrondissement_of_a_city(paris: PlaceIndex, typed: str, code: str) -> None:
    """Used to answer the whole city, with confidence (or nothing at all for Paris)."""
    result = paris.match(typed)
    assert result.outcome == "found" and result.places[0].postal_codes == (code,)


def test_a_department_number_picks_among_homonyms(paris: PlaceIndex) -> None:
    result = paris.match("saint denis 93")
    assert result.outcome == "found" and result.places[0].postal_codes[0] == "93200"
    assert paris.match("Saint-Denis 974").places[0].postal_codes[0] == "97400"
    assert paris.match("vitry 94").places[0].name == "Vitry-sur-Seine"


@pytest.mark.parametrize("typed,first", [("vitry", "Vitry-sur-Seine"), ("cherbourg", "Cherbourg-en-Cotentin")])
def test_a_bare_prefix_offers_the_compound_names(paris: PlaceIndex, typed: str, first: str) -> None:
    result = paris.match(typed)
    assert result.outcome == "choose" and result.places[0].name == first
    assert all(p.name.startswith(first.split("-")[0]) for p in result.places)


def test_a_prefix_shared_by_homonyms_offers_the_big_compound_too(paris: PlaceIndex) -> None:
    names = [p.name for p in paris.match("neuilly", limit=6).places]
    assert "Neuilly" in names and "Neuilly-sur-Seine" in names


def test_a_city_is_not_split_into_its_arrondissements_by_prefix(paris: PlaceIndex) -> None:
    assert paris.match("lyon").outcome == "found" and paris.match("marseille").outcome == "found"
