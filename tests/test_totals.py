from decimal import Decimal

from acv_xl.checks import totals
from acv_xl.contract.model import Convention, Dispositif, FicheAction, Financeur, LigneFinancement, build_row


def _conv():
    actions = [
        build_row(FicheAction, {"numero": "1.1", "axe": "Axe 1", "cout_total": 100000, "type_mo": "Commune", "maturite": "Mature"}),
        build_row(FicheAction, {"numero": "4.1", "axe": 4, "cout_total": 50000.5, "type_mo": "Commune"}),
        build_row(FicheAction, {"numero": "5.1", "axe": 5, "cout_total": 999, "maturite": "Abandonnée"}),
    ]
    lines = [
        ("1.1", "COMMUNE", "Autofinancement", "Autofinancement", 2024, 20000, "Acquis"),
        ("1.1", "ETAT", "DSIL", "Subvention", 2024, 50000, "Sollicité"),
        ("1.1", "CDC", "PRU ACV", "Prêt", 2025, 30000, "Prévisionnel"),
        ("1.1", "REGION", "Aménagement du territoire", "Subvention", 2025, 40000, "Refusé"),
        ("4.1", "COMMUNE", "Autofinancement", "Autofinancement", 2025, 10000.5, "Acquis"),
        ("4.1", "AL", "Subvention", "Subvention", 2025, 40000, "Engagé"),
        ("4.1", "ETAT", "DETR", "Subvention", 2025, "40 000 €", "Acquis"),  # text: counts nowhere
    ]
    fin = [build_row(LigneFinancement, dict(zip(
        ("numero", "financeur", "dispositif", "nature", "annee", "montant", "statut"), ln))) for ln in lines]
    financeurs = [build_row(Financeur, {"code": c, "categorie": cat}) for c, cat in
                  (("COMMUNE", "Public"), ("ETAT", "Public"), ("CDC", "Public"), ("AL", "Privé"), ("REGION", "Public"))]
    dispositifs = [build_row(Dispositif, {"financeur": "ETAT", "dispositif": d, "nature": "Subvention", "dotation_r2334_27": "Oui"})
                   for d in ("DSIL", "DETR")]
    return Convention(actions=actions, financements=fin, financeurs=financeurs, dispositifs=dispositifs)


def test_compute_excludes_refused_and_unparsed():
    t = totals.compute(_conv())
    assert t.cout_total == Decimal("150000.50")  # the abandoned action is not a cost
    assert t.financement_total == Decimal("150000.50")
    assert t.ecart == 0
    assert t.par_financeur == {"AL": Decimal("40000.00"), "CDC": Decimal("30000.00"),
                               "COMMUNE": Decimal("30000.50"), "ETAT": Decimal("50000.00")}
    assert t.par_axe == {"1": Decimal("100000.00"), "4": Decimal("50000.50")}
    assert t.par_annee == {"2024": Decimal("70000.00"), "2025": Decimal("80000.50")}
    assert "Refusé" not in t.par_statut
    assert sum(t.par_statut.values()) == t.financement_total


def test_part_mo_bases():
    conv = _conv()
    # 1.1: own = 20 000 autofinancement + 30 000 CDC loan; public subsidies = 50 000 DSIL (Région refused)
    p = totals.part_mo(totals.lines_of(conv.financements, "1.1"), conv.financeurs)
    assert (p.propre, p.subventions_publiques, p.ratio) == (Decimal("50000.00"), Decimal("50000.00"), Decimal("0.5"))
    # 4.1: the AL subsidy is private money: outside the base
    p = totals.part_mo(totals.lines_of(conv.financements, "4.1"), conv.financeurs)
    assert p.subventions_publiques == 0 and p.ratio == 1


def test_r2334_27_and_filters():
    conv = _conv()
    assert totals.dotations_r2334_27(totals.lines_of(conv.financements, "1.1"), conv.dispositifs) == Decimal("50000.00")
    assert totals.total_financeur(conv.financements, "COMMUNE", statuts=["Acquis"], annee=2025) == Decimal("10000.50")
    assert totals.total_action(conv.financements, "1.1", statuts=["Acquis", "Engagé", "Versé"]) == Decimal("20000.00")
    assert totals.ecart(conv.actions[0], conv.financements) == 0


def test_json_rounded_to_cent():
    j = totals.compute(_conv()).as_json()
    assert j["cout_total"] == 150000.5 and j["par_financeur"]["COMMUNE"] == 30000.5


def test_every_breakdown_plus_its_unallocated_part_is_the_financing_total():
    """A line with no financeur (or year, statut, known action) is counted in the total: the JSON
    says where it went instead of letting the breakdowns silently add up to less."""
    from decimal import Decimal

    from conventions import clean

    conv = clean()
    lf = conv.financements[0]
    lf.financeur, lf.annee = None, None
    t = totals.compute(conv)
    for name, rest in t.non_ventile.items():
        assert sum(getattr(t, name).values(), Decimal(0)) + rest == t.financement_total, name
    assert t.non_ventile["par_financeur"] == lf.montant == t.non_ventile["par_annee"]
    assert t.as_json()["non_ventile"]["par_financeur"] == float(lf.montant)


def test_dotations_of_counted_lines_are_dotations_r2334_27():
    """`DotationsR2334.total` (the rules' way, over lines counted already) sums as `dotations_r2334_27`,
    on every action of every example and of a plan with several dotations."""
    from acv_xl.outputs.examples import example_conventions

    for conv in [_conv(), *example_conventions().values()]:
        is_dotation = totals.DotationsR2334(conv.dispositifs)
        for a in conv.actions:
            lines = totals.lines_of(conv.financements, a.numero)
            want = totals.dotations_r2334_27(lines, conv.dispositifs)
            got = is_dotation.total(totals.counted(lines))
            assert got == want and str(got) == str(want), a.numero


def test_part_mo_with_one_categories_for_every_action_is_each_actions_own_walk():
    """The rules pass one `Categories` for the whole run: it remembers each line's L1111-10 role by (MO
    codes, nature, financeur). Every action of every example, and each action's lines with the MO
    of every other action (the same triples meet other MOs): the shares of a fresh walk per action."""
    from acv_xl.outputs.examples import example_conventions

    for conv in example_conventions().values():
        shared = totals.Categories(conv.financeurs)
        mo_codes = totals.MOCodes(conv.financeurs)
        for a in conv.actions:
            for b in conv.actions:
                lines = totals.lines_of(conv.financements, b.numero)
                want = totals.part_mo(lines, conv.financeurs, a)
                assert totals.part_mo(lines, shared, a, mo_codes) == want
        assert shared.roles  # the memo was used


def test_compute_sums_every_family_as_by_key_does():
    """`compute` adds the five families in one pass over the lines: each the `by_key` sum of its key,
    on every example and on lines whose keys are blank, missing or of mixed types (a year typed as
    text beside the same year as a number: summed by string, in line order)."""
    from acv_xl.outputs.examples import example_conventions

    convs = list(example_conventions().values())
    odd = convs[0].model_copy(deep=True)
    for k, lf in enumerate(odd.financements):
        if k % 5 == 1:
            lf.__dict__["financeur"] = None if k % 2 else ""
        if k % 7 == 2:
            lf.__dict__["annee"] = str(lf.annee) if lf.annee is not None else "2024"
        if k % 11 == 3:
            lf.__dict__["numero"] = None
    convs.append(odd)
    for conv in convs:
        axe_of = {a.numero: a.axe for a in conv.actions if a.numero}
        t = totals.compute(conv)
        lines = conv.financements
        assert t.par_financeur == totals.by_key(lines, lambda lf: lf.financeur)
        assert t.par_axe == totals.by_key(lines, lambda lf: axe_of.get(lf.numero))
        assert t.par_annee == totals.by_key(lines, lambda lf: lf.annee)
        assert t.par_statut == totals.by_key(lines, lambda lf: lf.statut)
        assert t.par_action == totals.by_key(lines, lambda lf: lf.numero)
        assert all(str(v) == str(w) for d, e in ((t.par_annee, totals.by_key(lines, lambda lf: lf.annee)),)
                   for v, w in zip(d.values(), e.values()))  # exponents too


def test_lists_shared_between_runs_answer_as_each_runs_own():
    """`shared_categories`, `shared_mo_codes` and `shared_dotations` give every run that meets the
    same lists one object (with the answers it keeps): a list that differs in any value read gives
    its own, answering as a fresh one."""
    def financeur(code, nom, categorie):
        return build_row(Financeur, {"code": code, "nom": nom, "categorie": categorie})

    def dispositif(financeur, nom, oui):
        return build_row(Dispositif, {"financeur": financeur, "dispositif": nom, "nature": "Subvention",
                                      "dotation_r2334_27": oui})

    a = [financeur("ETAT", "État", "Public"), financeur("SYND", "Syndicat des eaux", "Public")]
    b = [financeur("ETAT", "État", "Public"), financeur("SYND", "Syndicat des eaux", "Privé")]
    c = [financeur("ETAT", "État", "Public"), financeur("SYND", "Syndicat de l'eau", "Public")]
    assert totals.shared_categories(a) is totals.shared_categories(list(a))
    assert totals.shared_categories(b) is not totals.shared_categories(a)
    assert totals.shared_categories(b).get("SYND") == totals.Categories(b).get("SYND") == "Privé"
    # a reference funder's category is the reference's (FIN-18 warns of another)
    assert totals.Categories([financeur("ETAT", "État", "Privé")]).get("ETAT") == "Public"
    action = build_row(FicheAction, {"numero": "1.1", "type_mo": "Syndicat mixte", "maitre_ouvrage": "Syndicat des eaux"})
    assert totals.shared_mo_codes(a) is totals.shared_mo_codes(list(a))
    # the category is read (an EPCI's short name is one only if not « Privé »): each its own
    ca = [financeur("ETAT", "État", "Public"), financeur("CAN", "CA du Nord", "Public")]
    ca_privee = [financeur("ETAT", "État", "Public"), financeur("CAN", "CA du Nord", "Privé")]
    assert totals.shared_mo_codes(ca).collectivites == {"CAN"}
    assert totals.shared_mo_codes(ca_privee).collectivites == totals.MOCodes(ca_privee).collectivites == frozenset()
    assert totals.shared_mo_codes(a)(action) == totals.MOCodes(a)(action) == {"SYND"}
    assert totals.shared_mo_codes(c)(action) == totals.MOCodes(c)(action) == frozenset()
    line = build_row(LigneFinancement, {"numero": "1.1", "financeur": "REGION", "dispositif": "Fonds XYZ",
                                        "nature": "Subvention", "montant": 10.0, "statut": "Acquis"})
    oui, non = [dispositif("REGION", "Fonds XYZ", "Oui")], [dispositif("REGION", "Fonds XYZ", "Non")]
    assert totals.shared_dotations(oui)(line) is True and totals.shared_dotations(non)(line) is False
    assert totals.shared_dotations(oui) is totals.shared_dotations(list(oui))


def test_the_answers_a_shared_list_keeps_are_bounded():
    """A server meets the template's lists for months, and new maîtres d'ouvrage and dispositifs
    with every workbook: the answers a shared lookup keeps stay bounded, and still right."""
    fs = [build_row(Financeur, {"code": "SYND", "nom": "Syndicat des eaux", "categorie": "Public"})]
    shared = totals.shared_mo_codes(fs)
    for i in range(totals._ANSWERS_MAX + 500):
        action = build_row(FicheAction, {"numero": "1.1", "maitre_ouvrage": f"Maître d'ouvrage n° {i}"})
        assert shared(action) == totals.MOCodes(fs)(action) == frozenset()
        assert len(shared._known) <= totals._ANSWERS_MAX
    named = build_row(FicheAction, {"numero": "1.1", "maitre_ouvrage": "Syndicat des eaux"})
    assert shared(named) == {"SYND"}
    dotations = totals.shared_dotations([])
    for i in range(totals._ANSWERS_MAX + 10):
        line = build_row(LigneFinancement, {"financeur": "ETAT", "dispositif": f"Fonds {i}"})
        assert dotations(line) is False and len(dotations._known) <= totals._ANSWERS_MAX


def test_answers_about_a_pasted_text_are_given_but_not_kept():
    """The answers the lookups keep for the next runs (`acv-xl serveur`: months) leave out a key holding
    a pasted text — a maître d'ouvrage, a financeur or a dispositif of 30,000 characters — and are the
    same answers."""
    pasted = "Commune de Quelque-Part " + "et ses environs " * 1_900
    financeurs = [build_row(Financeur, {"code": "SM", "nom": pasted, "categorie": "Public"}),
                  build_row(Financeur, {"code": "ETAT", "nom": "État", "categorie": "Public"})]
    action = build_row(FicheAction, {"numero": "1", "maitre_ouvrage": pasted, "type_mo": "Autre"})
    mo_codes = totals.MOCodes(financeurs)
    assert mo_codes(action) == totals.codes_du_mo(action, financeurs) == frozenset({"SM"})
    line = build_row(LigneFinancement, {"numero": "1", "financeur": pasted, "dispositif": pasted,
                                        "nature": "Subvention", "statut": "Acquis", "montant": 10.0})
    categories = totals.Categories(financeurs)
    assert totals.part_mo([line], categories, action, mo_codes) == totals.part_mo([line], financeurs, action, financeurs)
    dotations = totals.DotationsR2334([])
    assert dotations(line) is False
    assert not mo_codes._known and not categories.roles and not dotations._known
    ordinary = build_row(FicheAction, {"numero": "2", "maitre_ouvrage": "SM", "type_mo": "Autre"})
    mo_codes(ordinary)
    assert mo_codes._known


def test_a_departement_past_28_digits_adds_up_to_the_cent():
    """Two conventions of 10^26 € + 0,01 € and 0,02 €: the département's total lost its cents in the
    default 28 digits (`combine`), and so did a difference of two such totals."""
    big = totals.Totaux(cout_total=Decimal("100000000000000000000000000.01"), financement_total=Decimal("1E+26"),
                        par_financeur={"ETAT": Decimal("1E+26")})
    small = totals.Totaux(cout_total=Decimal("0.02"), financement_total=Decimal("0.02"),
                          par_financeur={"ETAT": Decimal("0.02")})
    both = totals.combine([big, small])
    assert both.cout_total == Decimal("100000000000000000000000000.03")
    assert both.par_financeur["ETAT"] == Decimal("100000000000000000000000000.02")
    assert both.ecart == Decimal("0.01") and both.non_ventile["par_financeur"] == 0
    assert totals.add_up([Decimal("1E+30"), Decimal("0.01")]) == Decimal("1000000000000000000000000000000.01")
