// ACV: the texts of xlwings' page (base.html) that Office may show, in French — the box shown when
// Office does not get ready in the task pane or a message box (« The add-in didn't load properly »,
// « Reload », « Cancel »), and the page's language. And the task pane's banner: its buttons show a
// refused call's text there, not in the message box, with the seal the server adds for the box
// (udfs/server_alert.py), « [acv-xl:…] », which is removed, with the English words around a message of the
// server that the add-in shows as a failure.
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
  const bandeau = document.querySelector("#global-error-alert span");
  if (bandeau) {
    const sceau = /\s*\[acv-xl:\d{1,12}\.[A-Za-z0-9_-]{43}\]\s*$/;
    // a message of the server thrown by acv-protection.js (« la feuille … est protégée »), as xlwings frames the
    // failure of an action (or, before it did, « Error: » alone): only the message is shown
    const cadre = /^(?:Error: )?(?:Action \d{1,9} \(runMacro\) failed: )?([\s\S]*?\[acv-xl:\d{1,12}\.[A-Za-z0-9_-]{43}\])(?:\. Up to \d{1,9} actions? may already have been applied, including the failing action\.)?$/;
    new MutationObserver(() => {
      const encadre = cadre.exec(bandeau.textContent.trim());
      const texte = encadre ? encadre[1] : bandeau.textContent;
      if (sceau.test(texte)) bandeau.textContent = texte.replace(sceau, "");
    }).observe(bandeau, { childList: true, characterData: true, subtree: true });
  }
});
