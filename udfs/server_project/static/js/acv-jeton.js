// ACV: the « Jeton d'accès » field of the task pane (taskpane.html). Saves the token the préfecture
// gave (auth.js sends it with every call), or forgets it when the field is emptied. Never shows
// the saved token back: the field only says whether one is saved.
document.addEventListener("DOMContentLoaded", () => {
  const champ = document.querySelector("#acv-jeton");
  const bouton = document.querySelector("#acv-jeton-enregistrer");
  const etat = document.querySelector("#acv-jeton-etat");
  if (!champ || !bouton || !etat) return;

  async function afficherEtat() {
    const jeton = await globalThis.acvLireJeton();
    etat.textContent = jeton ? "Un jeton est enregistré pour ce complément." : "Aucun jeton enregistré.";
  }

  bouton.addEventListener("click", async () => {
    try {
      await globalThis.acvEnregistrerJeton(champ.value);
      champ.value = "";
      await afficherEtat();
    } catch (error) {
      etat.textContent = "Le jeton n'a pas pu être enregistré (stockage du navigateur indisponible).";
    }
  });
  afficherEtat();
});
