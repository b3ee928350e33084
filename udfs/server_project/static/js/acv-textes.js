// ACV: the texts of xlwings' page (base.html) that Office may show, in French — the box shown when
// Office does not get ready in the task pane or a message box (« The add-in didn't load properly »,
// « Reload », « Cancel »), and the page's language.
document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.lang = "fr";
  const textes = {
    "#xlwings-office-ready-error .mb-3": "Le complément ne s'est pas chargé correctement.",
    "#xlwings-taskpane-reload-btn": "Recharger",
    "#xlwings-taskpane-reload-cancel-btn": "Annuler",
  };
  for (const [selecteur, texte] of Object.entries(textes)) {
    const element = document.querySelector(selecteur);
    if (element) element.textContent = texte;
  }
  for (const bouton of document.querySelectorAll("button.btn-close[aria-label='Close']")) {
    bouton.setAttribute("aria-label", "Fermer");
  }
});
