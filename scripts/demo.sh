#!/usr/bin/env bash
# The main job on the shipped examples: install, write the template and the examples,
# validate every example, consolidate the département into sortie/.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
mkdir -p sortie
.venv/bin/acv-xl modele sortie/modele_acv.xlsx --remplacer || exit 2
.venv/bin/acv-xl exemples sortie/exemples --remplacer || exit 2
# The national list of the communes the identities are checked against (ANCT, April 2024).
.venv/bin/acv-xl reference ACV031 || exit 2
# Some examples carry deliberate mistakes: status 1 is expected here. The report is shown and kept
# in sortie/, as the README promises.
.venv/bin/acv-xl valider sortie/exemples/*.xlsx | tee sortie/validation.txt
.venv/bin/acv-xl consolider sortie/exemples -o sortie/consolidation_62.xlsx --departement 62 --json sortie/consolidation_62.json
echo "Résultats dans sortie/ : modèle, exemples, rapport de validation, consolidation du Pas-de-Calais."
